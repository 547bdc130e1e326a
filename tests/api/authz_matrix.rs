//! The authorization matrix: every GraphQL root field and REST route × every role × every plan, against tests/authz_matrix.csv.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use api::auth::{Actor, Origin, Plan, Principal, Role};
use api::authz::{Authz, Tenant};
use api::events::webhooks;
use api::service::identity::bootstrap::{Bootstrapped, bootstrap};
use api::service::identity::organizations::set_plan_as_operator;
use api::service::identity::{api_keys, members, sessions, signin};
use api::service::{conversations, knowledge_base};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app_with};

const MATRIX: &str = "tests/authz_matrix.csv";
const PLANS: [Plan; 3] = [Plan::Basic, Plan::Standard, Plan::Premium];

/// One organization on a plan: its owner's session, a key per role, and objects to point requests at.
struct Org {
    plan: Plan,
    boot: Bootstrapped,
    session: Principal,
    keys: BTreeMap<Role, String>,
    /// A signed-in member of each role.
    sessions: BTreeMap<Role, String>,
    conversation: String,
    /// The assistant's answer to the conversation's opening message.
    answer: String,
    /// The organization's first event (`conversation.created`), for subscriptions to replay from.
    first_event: String,
    visitor: String,
    entry: String,
    webhook: String,
}

fn session(boot: &Bootstrapped, plan: Plan, authz: &Arc<Authz>) -> Principal {
    Principal {
        organization: Tenant::new(boot.organization.id.clone()),
        plan,
        role: Role::Owner,
        actor: Actor::User {
            id: boot.owner.id.clone(),
            session_id: "ses_matrix".to_owned(),
            method: "password".to_owned(),
        },
        origin: Origin::default(),
        scopes: None,
        authz: authz.clone(),
    }
}

impl Org {
    async fn new(app: &TestApp, plan: Plan) -> Self {
        // A basic organization got its webhook on a higher plan: a downgrade keeps it, read-only.
        let first_plan = if plan == Plan::Basic {
            Plan::Standard
        } else {
            plan
        };
        let boot = bootstrap(
            &app.db,
            &format!("{plan} org"),
            first_plan,
            "owner@matrix.test",
        )
        .await
        .unwrap();
        let mut session = session(&boot, first_plan, &app.state.authz);
        let mut keys = BTreeMap::new();
        for role in Role::ALL {
            let input = api_keys::CreateApiKey {
                name: format!("{role} key"),
                role: Some(role),
                ..Default::default()
            };
            let (_, secret) = api_keys::create(&app.db, &session, input).await.unwrap();
            keys.insert(role, secret);
        }
        let mut sessions = BTreeMap::new();
        for role in Role::ALL {
            sessions.insert(role, signed_in_member(app, &boot, &session, role).await);
        }
        let created = conversations::posting::start_conversation(
            &app.db,
            &app.state.engine,
            &session,
            conversations::posting::CreateConversation {
                initial_message: Some("Where is my order?".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let first_event = {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
            entities::event::Entity::find()
                .filter(entities::event::Column::OrganizationId.eq(&boot.organization.id))
                .order_by_asc(entities::event::Column::Id)
                .one(app.db.conn())
                .await
                .unwrap()
                .unwrap()
                .id
        };
        let mut org = Self {
            plan: first_plan,
            first_event,
            answer: created.replies[0].id.clone(),
            conversation: created.conversation.id,
            visitor: created.conversation.visitor_id,
            entry: String::new(),
            webhook: String::new(),
            boot,
            session: session.clone(),
            keys,
            sessions,
        };
        org.entry = org.new_entry(app).await;
        org.webhook = org.new_webhook(app).await;
        if plan != first_plan {
            set_plan_as_operator(&app.db, &org.boot.organization.id, plan)
                .await
                .unwrap();
            session.plan = plan;
            org.session = session;
            org.plan = plan;
        }
        org
    }

    /// A delivery of the fixture endpoint to send again; on a plan without webhooks none can be made, and the
    /// call is refused before the id is looked at.
    async fn new_delivery(&self, app: &TestApp) -> String {
        if self.plan == Plan::Basic {
            return "dlv_01JD0000000000000000000000".to_owned();
        }
        api::events::deliveries::send_test(&app.db, &self.session, &self.webhook)
            .await
            .unwrap()
            .delivery
            .id
    }

    /// A fresh endpoint to delete; on a plan without webhooks nothing can be created, nor deleted.
    async fn new_webhook(&self, app: &TestApp) -> String {
        if self.plan == Plan::Basic {
            return self.webhook.clone();
        }
        let input = webhooks::CreateWebhook {
            url: format!("https://hooks.example.com/{}", ulid::Ulid::new()),
            events: vec!["message.created".to_owned()],
            ..Default::default()
        };
        webhooks::create(&app.db, &app.state.sealer, &self.session, None, input)
            .await
            .unwrap()
            .0
            .model
            .id
    }

    /// A fresh notification rule to change or delete.
    async fn new_rule(&self, app: &TestApp) -> String {
        api::service::notifications::create(
            &app.db,
            &self.session,
            api::service::notifications::RuleInput {
                name: Some(format!("Rule {}", ulid::Ulid::new())),
                events: Some(vec!["handoff".to_owned()]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    /// A fresh conversation to close: a closed conversation refuses messages, which later probes post to the
    /// fixture one.
    async fn new_conversation(&self, app: &TestApp) -> String {
        conversations::posting::start_conversation(
            &app.db,
            &app.state.engine,
            &self.session,
            conversations::posting::CreateConversation::default(),
        )
        .await
        .unwrap()
        .conversation
        .id
    }

    async fn new_entry(&self, app: &TestApp) -> String {
        let input = knowledge_base::CreateEntry {
            title: "Shipping".to_owned(),
            body: "Orders ship in two days.".to_owned(),
            ..Default::default()
        };
        knowledge_base::create(&app.db, app.state.engine.retriever(), &self.session, input)
            .await
            .unwrap()
            .id
    }

    async fn new_key(&self, app: &TestApp) -> String {
        let input = api_keys::CreateApiKey {
            name: "target".to_owned(),
            role: Some(Role::Viewer),
            ..Default::default()
        };
        api_keys::create(&app.db, &self.session, input)
            .await
            .unwrap()
            .0
            .id
    }

    /// The organization's HubSpot integration, connected (without tokens; HubSpot is a closed port): probes
    /// read, configure, test and disconnect it. A disconnected one is connected again.
    async fn integration(&self, app: &TestApp) -> String {
        use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
        let existing = entities::integration::Entity::find()
            .filter(entities::integration::Column::OrganizationId.eq(&self.boot.organization.id))
            .one(app.db.conn())
            .await
            .unwrap();
        if let Some(row) = existing {
            let id = row.id.clone();
            let mut row: entities::integration::ActiveModel = row.into();
            row.status = Set("connected".to_owned());
            row.update(app.db.conn()).await.unwrap();
            return id;
        }
        let at = chrono::Utc::now();
        entities::integration::ActiveModel {
            id: Set(format!("int_{}", ulid::Ulid::new())),
            organization_id: Set(self.boot.organization.id.clone()),
            provider: Set("hubspot".to_owned()),
            status: Set("connected".to_owned()),
            credentials: Set(None),
            account: Set(json!({})),
            settings: Set(json!({})),
            token_expires_at: Set(None),
            refresh_lease_until: Set(None),
            last_refreshed_at: Set(None),
            refresh_failures: Set(0),
            last_error: Set(None),
            connected_by: Set(None),
            connected_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(app.db.conn())
        .await
        .unwrap()
        .id
    }

    /// An SSO connection to read, change or delete. Only the premium plan makes them: on the others it was made
    /// before a downgrade, which keeps it readable.
    async fn new_sso_connection(&self, app: &TestApp) -> String {
        let mut owner = self.session.clone();
        if self.plan != Plan::Premium {
            set_plan_as_operator(&app.db, &self.boot.organization.id, Plan::Premium)
                .await
                .unwrap();
            owner.plan = Plan::Premium;
        }
        let input = api::service::identity::sso::settings::ConnectionInput {
            name: "Corp".to_owned(),
            protocol: api::service::identity::sso::settings::Protocol::Oidc,
            domains: vec![random_domain()],
            enabled: true,
            oidc: Some(api::service::identity::sso::settings::OidcInput {
                issuer: "https://idp.example.com".to_owned(),
                client_id: "concierge".to_owned(),
                client_secret: Some("secret".to_owned()),
                scopes: Vec::new(),
            }),
            oauth2: None,
            saml: None,
            attributes: Default::default(),
            role_rules: Vec::new(),
            default_role: Role::Viewer,
            deny_unmatched: false,
            jit_provisioning: true,
        };
        let id = api::service::identity::sso::connections::create(
            &app.db,
            &app.state.sealer,
            &app.state.idp,
            &owner,
            input,
        )
        .await
        .unwrap()
        .id;
        if self.plan != Plan::Premium {
            set_plan_as_operator(&app.db, &self.boot.organization.id, self.plan)
                .await
                .unwrap();
        }
        id
    }

    /// A signed-in viewer's session id, for the operations that end one.
    async fn new_session(&self, app: &TestApp) -> String {
        let email = format!(
            "{}@matrix.test",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let input = members::InviteMember {
            email: email.clone(),
            role: Role::Viewer,
            name: None,
        };
        let member = members::invite(&app.db, &self.session, input)
            .await
            .unwrap();
        let token = signin::issue_invitation(&app.db, &self.session, &member.id)
            .await
            .unwrap()
            .token;
        let origin = Origin::default();
        let accepted = signin::AcceptInvitation {
            token,
            password: PASSWORD.to_owned(),
        };
        signin::accept_invitation(&app.db, accepted, &origin)
            .await
            .unwrap();
        let credentials = signin::Credentials {
            email,
            password: PASSWORD.to_owned(),
            organization_id: Some(member.organization_id),
        };
        signin::login(
            &app.db,
            &app.state.login_throttle,
            sessions::SessionPolicy::default(),
            credentials,
            &origin,
        )
        .await
        .unwrap()
        .session
        .id
    }

    async fn new_member(&self, app: &TestApp) -> String {
        let input = members::InviteMember {
            email: format!(
                "{}@matrix.test",
                ulid::Ulid::new().to_string().to_lowercase()
            ),
            role: Role::Viewer,
            name: None,
        };
        members::invite(&app.db, &self.session, input)
            .await
            .unwrap()
            .id
    }
}

/// Signs in a member with `role` (the bootstrap owner for owners) and returns the session token.
async fn signed_in_member(
    app: &TestApp,
    boot: &Bootstrapped,
    owner: &Principal,
    role: Role,
) -> String {
    let invitation = if role == Role::Owner {
        boot.owner_invitation.clone()
    } else {
        let input = members::InviteMember {
            email: format!("{role}@matrix.test"),
            role,
            name: None,
        };
        let member = members::invite(&app.db, owner, input).await.unwrap();
        signin::issue_invitation(&app.db, owner, &member.id)
            .await
            .unwrap()
            .token
    };
    let origin = Origin::default();
    let accepted = signin::AcceptInvitation {
        token: invitation,
        password: PASSWORD.to_owned(),
    };
    let member = signin::accept_invitation(&app.db, accepted, &origin)
        .await
        .unwrap();
    let credentials = signin::Credentials {
        email: member.email,
        password: PASSWORD.to_owned(),
        organization_id: Some(member.organization_id),
    };
    signin::login(
        &app.db,
        &app.state.login_throttle,
        sessions::SessionPolicy::default(),
        credentials,
        &origin,
    )
    .await
    .unwrap()
    .token
}

const PASSWORD: &str = "matrix member password";

/// An email domain no other connection serves.
fn random_domain() -> String {
    format!(
        "{}.example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// The input of an SSO connection probe.
fn sso_input() -> Value {
    json!({
        "name": "Corp",
        "protocol": "OIDC",
        "domains": [random_domain()],
        "oidc": {"issuer": "https://idp.example.com", "clientId": "concierge", "clientSecret": "secret"},
    })
}

/// Who calls: a service key or a signed-in member, each holding the role of the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Key,
    Session,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Key, Kind::Session];

    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Session => "session",
        }
    }
}

type Row = (String, String, String);

/// A request that exercises one operation.
enum Probe {
    Rest(Method, String, Option<Value>),
    /// A POST with raw bytes (an image upload).
    Upload(String, Vec<u8>),
    Graphql(String, Value),
    /// A subscription over `/graphql/ws`; `after` the organization's first event, so an allowed one answers at once.
    Subscription(String, Value),
}

fn sub(query: &str, variables: Value) -> Option<Probe> {
    Some(Probe::Subscription(query.to_owned(), variables))
}

fn gql(query: &str, variables: Value) -> Option<Probe> {
    Some(Probe::Graphql(query.to_owned(), variables))
}

fn rest(method: Method, path: String, body: Option<Value>) -> Option<Probe> {
    Some(Probe::Rest(method, path, body))
}

/// The request for `operation` against `org`, creating what a destructive call consumes; `None` if there is none.
async fn probe(app: &TestApp, org: &Org, operation: &str) -> Option<Probe> {
    let conv = json!({"id": org.conversation});
    let entry = json!({"id": org.entry});
    let assistant = &org.boot.assistant.id;
    let email = format!(
        "{}@invited.test",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    match operation {
        "Query.me" => gql("{ me { role } }", json!({})),
        "Query.organization" => gql("{ organization { id } }", json!({})),
        "Query.plans" => gql("{ plans { plan } }", json!({})),
        "Query.assistants" => gql("{ assistants { id } }", json!({})),
        "Query.assistant" => gql(
            "query($id: ID!) { assistant(id: $id) { id } }",
            json!({"id": assistant}),
        ),
        "Query.embedSnippet" => gql(
            "query($id: ID!) { embedSnippet(assistantId: $id, platform: WIX) { snippet } }",
            json!({"id": assistant}),
        ),
        "GET /assistants/{id}/embed" => rest(
            Method::GET,
            format!("/assistants/{assistant}/embed?platform=wix"),
            None,
        ),
        "Query.visitors" => gql("{ visitors(first: 1) { totalCount } }", json!({})),
        "Query.visitor" => gql(
            "query($id: ID!) { visitor(id: $id) { id } }",
            json!({"id": org.visitor}),
        ),
        "Query.analytics" => gql(
            "{ analytics { conversations { total } knowledgeBase { total } } }",
            json!({}),
        ),
        "Query.conversations" => gql("{ conversations(first: 1) { totalCount } }", json!({})),
        "Query.conversation" => gql("query($id: ID!) { conversation(id: $id) { id } }", conv),
        "Query.rateLimit" => gql("{ rateLimit { cost remaining } }", json!({})),
        "Query.node" => gql("query($id: ID!) { node(id: $id) { id } }", conv),
        "Query.nodes" => gql("query($id: ID!) { nodes(ids: [$id]) { id } }", conv),
        "Query.knowledgeBaseEntries" => gql(
            "{ knowledgeBaseEntries(first: 1) { totalCount } }",
            json!({}),
        ),
        "Query.knowledgeBaseEntry" => gql(
            "query($id: ID!) { knowledgeBaseEntry(id: $id) { id } }",
            entry,
        ),
        "Query.apiKeys" => gql("{ apiKeys(first: 1) { totalCount } }", json!({})),
        "Query.apiKeyUsage" => gql("{ apiKeyUsage(days: 7) { requests } }", json!({})),
        "Query.auditLog" => gql("{ auditLog(first: 1) { totalCount } }", json!({})),
        "Query.members" => gql("{ members(first: 1) { totalCount } }", json!({})),
        "Query.ssoConnections" => gql("{ ssoConnections { id } }", json!({})),
        "Query.ssoConnection" => gql(
            "query($id: ID!) { ssoConnection(id: $id) { id } }",
            json!({"id": org.new_sso_connection(app).await}),
        ),
        "Mutation.createSsoConnection" => gql(
            "mutation($input: CreateSsoConnectionInput!) { createSsoConnection(input: $input) { ssoConnection { id } userErrors { code } } }",
            json!({"input": sso_input()}),
        ),
        "Mutation.updateSsoConnection" => gql(
            "mutation($id: ID!, $input: UpdateSsoConnectionInput!) { updateSsoConnection(id: $id, input: $input) { ssoConnection { id } userErrors { code } } }",
            json!({"id": org.new_sso_connection(app).await, "input": sso_input()}),
        ),
        "Mutation.deleteSsoConnection" => gql(
            "mutation($id: ID!) { deleteSsoConnection(id: $id) { deletedSsoConnectionId userErrors { code } } }",
            json!({"id": org.new_sso_connection(app).await}),
        ),
        "Mutation.testSsoConnection" => gql(
            "mutation($id: ID!) { testSsoConnection(id: $id) { test { ok } userErrors { code } } }",
            json!({"id": org.new_sso_connection(app).await}),
        ),
        "Mutation.setSsoEnforced" => gql(
            "mutation { setSsoEnforced(enforced: false) { organization { id } userErrors { code } } }",
            json!({}),
        ),
        "Query.sessions" => gql(
            "query($m: ID) { sessions(memberId: $m) { id } }",
            json!({"m": org.boot.owner.id}),
        ),
        "Mutation.revokeSession" => gql(
            "mutation($id: ID!) { revokeSession(id: $id) { session { id } userErrors { code } } }",
            json!({"id": org.new_session(app).await}),
        ),
        "GET /sessions" => rest(
            Method::GET,
            format!("/sessions?member_id={}", org.boot.owner.id),
            None,
        ),
        "GET /auth/session" => rest(Method::GET, "/auth/session".to_owned(), None),
        "DELETE /sessions/{id}" => rest(
            Method::DELETE,
            format!("/sessions/{}", org.new_session(app).await),
            None,
        ),
        "Query._service" => gql("{ _service { sdl } }", json!({})),
        "Query._entities" => gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Conversation { id } } }",
            json!({"r": [{"__typename": "Conversation", "id": org.conversation}]}),
        ),
        "Mutation.createConversation" => gql(
            "mutation($a: ID!) { createConversation(input: {assistantId: $a, initialMessage: \"hi\"}) { conversation { id } userErrors { code } } }",
            json!({"a": assistant}),
        ),
        "Query.knowledgeBaseSearch" => gql(
            "{ knowledgeBaseSearch(query: \"shipping times\") { confidence } }",
            json!({}),
        ),
        "Mutation.updateVisitor" => gql(
            "mutation($id: ID!, $name: String) { updateVisitor(id: $id, input: {name: $name}) { visitor { id } userErrors { code } } }",
            json!({"id": org.visitor, "name": format!("Changed {}", ulid::Ulid::new())}),
        ),
        "Mutation.updateConversation" => gql(
            "mutation($id: ID!) { updateConversation(id: $id, input: {subject: \"Order\"}) { conversation { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.handOffConversation" => gql(
            "mutation($id: ID!) { handOffConversation(id: $id) { conversation { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.resolveConversation" => gql(
            "mutation($id: ID!) { resolveConversation(id: $id) { conversation { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.reopenConversation" => gql(
            "mutation($id: ID!) { reopenConversation(id: $id) { conversation { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.closeConversation" => gql(
            "mutation($id: ID!) { closeConversation(id: $id) { conversation { id } userErrors { code } } }",
            json!({"id": org.new_conversation(app).await}),
        ),
        "Mutation.sendMessage" => gql(
            "mutation($id: ID!) { sendMessage(input: {conversationId: $id, author: AGENT, body: \"On its way\"}) { message { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.rateAnswer" => gql(
            "mutation($id: ID!) { rateAnswer(input: {messageId: $id, helpful: true}) { feedback { id } userErrors { code } } }",
            json!({"id": org.answer}),
        ),
        "Mutation.rateConversation" => gql(
            "mutation($id: ID!) { rateConversation(input: {conversationId: $id, rating: 5}) { feedback { id } userErrors { code } } }",
            conv,
        ),
        "Mutation.createKnowledgeBaseEntry" => gql(
            "mutation { createKnowledgeBaseEntry(input: {title: \"Returns\", body: \"30 days.\"}) { knowledgeBaseEntry { id } userErrors { code } } }",
            json!({}),
        ),
        "Mutation.updateKnowledgeBaseEntry" => gql(
            "mutation($id: ID!) { updateKnowledgeBaseEntry(id: $id, input: {title: \"Shipping times\"}) { knowledgeBaseEntry { id } userErrors { code } } }",
            entry,
        ),
        "Mutation.deleteKnowledgeBaseEntry" => gql(
            "mutation($id: ID!) { deleteKnowledgeBaseEntry(id: $id) { deletedKnowledgeBaseEntryId userErrors { code } } }",
            json!({"id": org.new_entry(app).await}),
        ),
        "Mutation.createAssistant" => gql(
            "mutation { createAssistant(input: {name: \"Second\"}) { assistant { id } userErrors { code } } }",
            json!({}),
        ),
        "Mutation.updateAssistant" => gql(
            "mutation($id: ID!) { updateAssistant(id: $id, input: {name: \"Helper\"}) { assistant { id } userErrors { code } } }",
            json!({"id": assistant}),
        ),
        "Mutation.createApiKey" => gql(
            "mutation { createApiKey(input: {name: \"made\", role: VIEWER}) { apiKey { id } userErrors { code } } }",
            json!({}),
        ),
        "Mutation.rotateApiKey" => gql(
            "mutation($id: ID!) { rotateApiKey(id: $id, gracePeriodSeconds: 0) { apiKey { id } userErrors { code } } }",
            json!({"id": org.new_key(app).await}),
        ),
        "Mutation.revokeApiKey" => gql(
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } userErrors { code } } }",
            json!({"id": org.new_key(app).await}),
        ),
        "Mutation.inviteMember" => gql(
            "mutation($e: String!) { inviteMember(input: {email: $e, role: VIEWER}) { member { id } userErrors { code } } }",
            json!({"e": email}),
        ),
        "Mutation.changeMemberRole" => gql(
            "mutation($id: ID!) { changeMemberRole(id: $id, role: ANALYST) { member { id } userErrors { code } } }",
            json!({"id": org.new_member(app).await}),
        ),
        "Mutation.issueInvitation" => gql(
            "mutation($id: ID!) { issueInvitation(id: $id) { expiresAt userErrors { code } } }",
            json!({"id": org.new_member(app).await}),
        ),
        "Mutation.deactivateMember" => gql(
            "mutation($id: ID!) { deactivateMember(id: $id) { member { id } userErrors { code } } }",
            json!({"id": org.new_member(app).await}),
        ),
        "Mutation.setOrganizationPlan" => gql(
            &format!(
                "mutation {{ setOrganizationPlan(plan: {}) {{ organization {{ id }} userErrors {{ code }} }} }}",
                org.plan.as_str().to_uppercase()
            ),
            json!({}),
        ),
        "GET /conversations" => rest(Method::GET, "/conversations".into(), None),
        "POST /conversations" => rest(
            Method::POST,
            "/conversations".into(),
            Some(json!({"assistant_id": assistant, "initial_message": "hi"})),
        ),
        "GET /conversations/{id}" => rest(
            Method::GET,
            format!("/conversations/{}", org.conversation),
            None,
        ),
        "GET /visitors" => rest(Method::GET, "/visitors".to_owned(), None),
        "GET /knowledge-base/search" => rest(
            Method::GET,
            "/knowledge-base/search?q=shipping".to_owned(),
            None,
        ),
        "GET /visitors/{id}" => rest(Method::GET, format!("/visitors/{}", org.visitor), None),
        "PUT /visitors/{id}" => rest(
            Method::PUT,
            format!("/visitors/{}", org.visitor),
            Some(json!({"name": format!("Changed {}", ulid::Ulid::new())})),
        ),
        "PUT /conversations/{id}" => rest(
            Method::PUT,
            format!("/conversations/{}", org.conversation),
            Some(json!({"subject": "Order"})),
        ),
        "GET /conversations/{id}/messages" => rest(
            Method::GET,
            format!("/conversations/{}/messages", org.conversation),
            None,
        ),
        "POST /conversations/{id}/messages" => rest(
            Method::POST,
            format!("/conversations/{}/messages", org.conversation),
            Some(json!({"author": "agent", "body": "On its way"})),
        ),
        "POST /conversations/{id}/attachments" => Some(Probe::Upload(
            format!("/conversations/{}/attachments", org.conversation),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        )),
        "POST /conversations/{id}/feedback" => rest(
            Method::POST,
            format!("/conversations/{}/feedback", org.conversation),
            Some(json!({"rating": 4})),
        ),
        "POST /messages/{id}/feedback" => rest(
            Method::POST,
            format!("/messages/{}/feedback", org.answer),
            Some(json!({"helpful": false})),
        ),
        "GET /analytics/conversations/export" => {
            rest(Method::GET, "/analytics/conversations/export".into(), None)
        }
        "GET /knowledge-base" => rest(Method::GET, "/knowledge-base".into(), None),
        "POST /knowledge-base" => rest(
            Method::POST,
            "/knowledge-base".into(),
            Some(json!({"title": "Returns", "body": "30 days."})),
        ),
        "GET /knowledge-base/{id}" => {
            rest(Method::GET, format!("/knowledge-base/{}", org.entry), None)
        }
        "PUT /knowledge-base/{id}" => rest(
            Method::PUT,
            format!("/knowledge-base/{}", org.entry),
            Some(json!({"title": "Shipping times"})),
        ),
        "DELETE /knowledge-base/{id}" => rest(
            Method::DELETE,
            format!("/knowledge-base/{}", org.new_entry(app).await),
            None,
        ),
        "GET /analytics/conversations" => {
            rest(Method::GET, "/analytics/conversations".into(), None)
        }
        "GET /analytics/knowledge-base" => {
            rest(Method::GET, "/analytics/knowledge-base".into(), None)
        }
        "GET /api-keys" => rest(Method::GET, "/api-keys".into(), None),
        "POST /api-keys" => rest(
            Method::POST,
            "/api-keys".into(),
            Some(json!({"name": "made", "role": "viewer"})),
        ),
        "GET /api-keys/usage" => rest(Method::GET, "/api-keys/usage".into(), None),
        "DELETE /api-keys/{id}" => rest(
            Method::DELETE,
            format!("/api-keys/{}", org.new_key(app).await),
            None,
        ),
        "POST /api-keys/{id}/rotate" => rest(
            Method::POST,
            format!("/api-keys/{}/rotate", org.new_key(app).await),
            Some(json!({"grace_period_seconds": 0})),
        ),
        "GET /audit-log" => rest(Method::GET, "/audit-log".into(), None),
        "Query.webhooks" => gql("{ webhooks(first: 1) { totalCount } }", json!({})),
        "Query.webhook" => gql(
            "query($id: ID!) { webhook(id: $id) { status } }",
            json!({"id": org.webhook}),
        ),
        "Mutation.createWebhook" => gql(
            "mutation($url: String!) { createWebhook(input: {url: $url, events: [CONVERSATION_CREATED]}) { secret userErrors { code } } }",
            json!({"url": format!("https://hooks.example.com/{}", ulid::Ulid::new())}),
        ),
        "Mutation.updateWebhook" => gql(
            "mutation($id: ID!) { updateWebhook(id: $id, input: {description: \"CRM\"}) { webhook { id } userErrors { code } } }",
            json!({"id": org.webhook}),
        ),
        "Mutation.deleteWebhook" => gql(
            "mutation($id: ID!) { deleteWebhook(id: $id) { deletedWebhookId userErrors { code } } }",
            json!({"id": org.new_webhook(app).await}),
        ),
        "Mutation.rotateWebhookSecret" => gql(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret userErrors { code } } }",
            json!({"id": org.webhook}),
        ),
        "Query.webhookDeliveries" => gql(
            "query($id: ID!) { webhookDeliveries(webhookId: $id, first: 5) { edges { node { status } } } }",
            json!({"id": org.webhook}),
        ),
        "GET /webhooks/{id}/deliveries" => rest(
            Method::GET,
            format!("/webhooks/{}/deliveries", org.webhook),
            None,
        ),
        "Mutation.redeliverWebhook" => gql(
            "mutation($w: ID!, $d: ID!) { redeliverWebhook(id: $w, deliveryId: $d) { delivery { status } userErrors { code } } }",
            json!({"w": org.webhook, "d": org.new_delivery(app).await}),
        ),
        "Mutation.replayWebhook" => gql(
            "mutation($w: ID!) { replayWebhook(id: $w, input: {since: \"2026-01-01T00:00:00Z\", until: \"2026-01-02T00:00:00Z\"}) { queued userErrors { code } } }",
            json!({"w": org.webhook}),
        ),
        "Mutation.testWebhook" => gql(
            "mutation($w: ID!) { testWebhook(id: $w) { delivery { status } userErrors { code } } }",
            json!({"w": org.webhook}),
        ),
        "POST /webhooks/{id}/deliveries/{delivery_id}/redeliver" => rest(
            Method::POST,
            format!(
                "/webhooks/{}/deliveries/{}/redeliver",
                org.webhook,
                org.new_delivery(app).await
            ),
            None,
        ),
        "POST /webhooks/{id}/replay" => rest(
            Method::POST,
            format!("/webhooks/{}/replay", org.webhook),
            Some(json!({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"})),
        ),
        "POST /webhooks/{id}/test" => rest(
            Method::POST,
            format!("/webhooks/{}/test", org.webhook),
            None,
        ),
        "Query.events" => gql("{ events(first: 5) { edges { cursor } } }", json!({})),
        "Query.eventRetentionDays" => gql("{ eventRetentionDays }", json!({})),
        "GET /events" => rest(Method::GET, "/events?limit=5".into(), None),
        "GET /webhooks" => rest(Method::GET, "/webhooks".into(), None),
        "POST /webhooks" => rest(
            Method::POST,
            "/webhooks".into(),
            Some(
                json!({"url": format!("https://hooks.example.com/{}", ulid::Ulid::new()), "events": ["conversation.created"]}),
            ),
        ),
        "GET /webhooks/{id}" => rest(Method::GET, format!("/webhooks/{}", org.webhook), None),
        "PUT /webhooks/{id}" => rest(
            Method::PUT,
            format!("/webhooks/{}", org.webhook),
            Some(json!({"description": "CRM"})),
        ),
        "DELETE /webhooks/{id}" => rest(
            Method::DELETE,
            format!("/webhooks/{}", org.new_webhook(app).await),
            None,
        ),
        "POST /webhooks/{id}/rotate-secret" => rest(
            Method::POST,
            format!("/webhooks/{}/rotate-secret", org.webhook),
            None,
        ),
        "Query.notificationRules" => gql("{ notificationRules { id } }", json!({})),
        "Query.emailTemplates" => gql("{ emailTemplates { kind enabled } }", json!({})),
        "Query.previewEmailTemplate" => gql(
            "{ previewEmailTemplate(kind: WELCOME) { subject } }",
            json!({}),
        ),
        "Mutation.updateEmailTemplate" => gql(
            "mutation { updateEmailTemplate(kind: WELCOME, input: {enabled: true}) { emailTemplate { enabled } userErrors { code } } }",
            json!({}),
        ),
        "Mutation.resetEmailTemplate" => gql(
            "mutation { resetEmailTemplate(kind: WELCOME) { emailTemplate { enabled } userErrors { code } } }",
            json!({}),
        ),
        "GET /email-templates" => rest(Method::GET, "/email-templates".into(), None),
        "GET /email-templates/{kind}" => rest(Method::GET, "/email-templates/welcome".into(), None),
        "PUT /email-templates/{kind}" => rest(
            Method::PUT,
            "/email-templates/welcome".into(),
            Some(json!({"enabled": true})),
        ),
        "DELETE /email-templates/{kind}" => {
            rest(Method::DELETE, "/email-templates/welcome".into(), None)
        }
        "POST /email-templates/{kind}/preview" => rest(
            Method::POST,
            "/email-templates/welcome/preview".into(),
            Some(json!({})),
        ),
        "Mutation.createNotificationRule" => gql(
            "mutation { createNotificationRule(input: {name: \"Admins\", events: [HANDOFF]}) { notificationRule { id } userErrors { code } } }",
            json!({}),
        ),
        "Mutation.updateNotificationRule" => gql(
            "mutation($id: ID!) { updateNotificationRule(id: $id, input: {windowMinutes: 60}) { notificationRule { id } userErrors { code } } }",
            json!({"id": org.new_rule(app).await}),
        ),
        "Mutation.deleteNotificationRule" => gql(
            "mutation($id: ID!) { deleteNotificationRule(id: $id) { notificationRule { id } userErrors { code } } }",
            json!({"id": org.new_rule(app).await}),
        ),
        "GET /notification-rules" => rest(Method::GET, "/notification-rules".into(), None),
        "POST /notification-rules" => rest(
            Method::POST,
            "/notification-rules".into(),
            Some(json!({"name": "Admins", "events": ["handoff"]})),
        ),
        "PUT /notification-rules/{id}" => rest(
            Method::PUT,
            format!("/notification-rules/{}", org.new_rule(app).await),
            Some(json!({"window_minutes": 60})),
        ),
        "DELETE /notification-rules/{id}" => rest(
            Method::DELETE,
            format!("/notification-rules/{}", org.new_rule(app).await),
            None,
        ),
        "Query.integrations" => gql("{ integrations { key includedInPlan } }", json!({})),
        "Query.integration" => gql(
            "query($id: ID!) { integration(id: $id) { status } }",
            json!({"id": org.integration(app).await}),
        ),
        "Query.integrationRuns" => gql(
            "query($id: ID!) { integrationRuns(integrationId: $id, first: 5) { edges { node { status } } } }",
            json!({"id": org.integration(app).await}),
        ),
        "Mutation.connectIntegration" => gql(
            "mutation { connectIntegration(input: {provider: HUBSPOT}) { authorizeUrl userErrors { code } } }",
            json!({}),
        ),
        "Mutation.updateIntegration" => gql(
            "mutation($id: ID!) { updateIntegration(id: $id, input: {crm: {fieldUpdates: ALWAYS}}) { integration { id } userErrors { code } } }",
            json!({"id": org.integration(app).await}),
        ),
        "Mutation.testIntegration" => gql(
            "mutation($id: ID!) { testIntegration(id: $id) { success userErrors { code } } }",
            json!({"id": org.integration(app).await}),
        ),
        "Mutation.disconnectIntegration" => gql(
            "mutation($id: ID!) { disconnectIntegration(id: $id) { revocation userErrors { code } } }",
            json!({"id": org.integration(app).await}),
        ),
        "GET /integrations" => rest(Method::GET, "/integrations".into(), None),
        "POST /integrations" => rest(
            Method::POST,
            "/integrations".into(),
            Some(json!({"provider": "hubspot"})),
        ),
        "GET /integrations/{id}" => rest(
            Method::GET,
            format!("/integrations/{}", org.integration(app).await),
            None,
        ),
        "PUT /integrations/{id}" => rest(
            Method::PUT,
            format!("/integrations/{}", org.integration(app).await),
            Some(json!({"crm": {"field_updates": "always"}})),
        ),
        "DELETE /integrations/{id}" => rest(
            Method::DELETE,
            format!("/integrations/{}", org.integration(app).await),
            None,
        ),
        "POST /integrations/{id}/test" => rest(
            Method::POST,
            format!("/integrations/{}/test", org.integration(app).await),
            None,
        ),
        "GET /integrations/{id}/runs" => rest(
            Method::GET,
            format!("/integrations/{}/runs", org.integration(app).await),
            None,
        ),
        "Subscription.conversationEvents" => sub(
            "subscription($id: ID!, $after: ID) { conversationEvents(conversationId: $id, after: $after) { id } }",
            json!({"id": org.conversation, "after": org.first_event}),
        ),
        "Subscription.organizationEvents" => sub(
            "subscription($after: ID) { organizationEvents(after: $after) { id } }",
            json!({"after": org.first_event}),
        ),
        "Subscription.messageAdded" => sub(
            "subscription($id: ID!, $after: ID) { messageAdded(conversationId: $id, after: $after) { id } }",
            json!({"id": org.conversation, "after": org.first_event}),
        ),
        _ => None,
    }
}

/// The code of the first user error of any mutation in a GraphQL response's `data`, if one has any.
fn user_error_code(body: &Value) -> Option<String> {
    body["data"].as_object()?.values().find_map(|payload| {
        let first = payload.get("userErrors")?.as_array()?.first()?;
        Some(first["code"].as_str().unwrap_or("?").to_owned())
    })
}

/// allow, deny (403 FORBIDDEN), plan (403 PLAN_UPGRADE_REQUIRED), or what else came back. A mutation whose
/// payload holds user errors did not run: an error too, so that a broken probe shows instead of counting as allow.
fn outcome(reply: &Reply, graphql: bool) -> String {
    if graphql
        && reply.status.is_success()
        && reply.body.get("errors").is_none()
        && let Some(code) = user_error_code(&reply.body)
    {
        return format!("error {} {code}: {}", reply.status, reply.text);
    }
    let code = if graphql {
        reply.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        reply.error_code().to_owned()
    };
    let ok = if graphql {
        reply.status.is_success() && reply.body.get("errors").is_none()
    } else {
        reply.status.is_success()
    };
    match (ok, code.as_str()) {
        (true, _) => "allow".to_owned(),
        (false, "FORBIDDEN") => "deny".to_owned(),
        (false, "PLAN_UPGRADE_REQUIRED") => "plan".to_owned(),
        (false, code) => format!("error {} {code}: {}", reply.status, reply.text),
    }
}

async fn call(app: &TestApp, key: &str, probe: Probe) -> String {
    match probe {
        Probe::Rest(method, path, body) => {
            let reply = app
                .send(method, &format!("/api/v1{path}"), Some(key), body)
                .await;
            outcome(&reply, false)
        }
        Probe::Upload(path, bytes) => {
            let response = app
                .client
                .post(app.url(&format!("/api/v1{path}")))
                .bearer_auth(key)
                .header("content-type", "image/png")
                .body(bytes)
                .send()
                .await
                .unwrap();
            outcome(&crate::helpers::Reply::read(response).await, false)
        }
        Probe::Graphql(query, variables) => {
            outcome(&app.graphql_as(key, &query, variables).await, true)
        }
        Probe::Subscription(query, variables) => {
            subscription_outcome(app, key, &query, variables).await
        }
    }
}

/// Opens a `graphql-transport-ws` connection and reads how the subscription is answered: its first event
/// (allow), an error naming the refusal, or a close in `connection_init` (4403: the plan has no subscriptions).
async fn subscription_outcome(app: &TestApp, token: &str, query: &str, variables: Value) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut request = app
        .url("/graphql/ws")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let read = async {
        while let Some(message) = socket.next().await {
            match message.unwrap() {
                Message::Text(text) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    match frame["type"].as_str().unwrap_or_default() {
                        "connection_ack" => {
                            let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}});
                            socket
                                .send(Message::text(subscribe.to_string()))
                                .await
                                .unwrap();
                        }
                        "next" | "error" => {
                            let code = frame["payload"]["errors"][0]["extensions"]["code"]
                                .as_str()
                                .unwrap_or_default();
                            return match code {
                                "" => "allow".to_owned(),
                                "FORBIDDEN" => "deny".to_owned(),
                                "PLAN_UPGRADE_REQUIRED" => "plan".to_owned(),
                                other => format!("error {other}: {text}"),
                            };
                        }
                        other => return format!("error unexpected {other}: {text}"),
                    }
                }
                Message::Close(Some(frame)) if u16::from(frame.code) == 4403 => {
                    return if frame.reason.contains("premium") {
                        "plan".to_owned()
                    } else {
                        "deny".to_owned()
                    };
                }
                Message::Close(frame) => return format!("error closed {frame:?}"),
                _ => {}
            }
        }
        "error the socket ended".to_owned()
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| "error no answer within 10 s".to_owned())
}

/// Every root field the server serves, from introspection.
async fn graphql_operations(app: &TestApp) -> Vec<String> {
    let data = app
        .graphql_ok(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut operations = Vec::new();
    for (root, key) in [
        ("Query", "queryType"),
        ("Mutation", "mutationType"),
        ("Subscription", "subscriptionType"),
    ] {
        for field in data["__schema"][key]["fields"]
            .as_array()
            .into_iter()
            .flatten()
        {
            operations.push(format!("{root}.{}", field["name"].as_str().unwrap()));
        }
    }
    operations
}

/// Every REST route, read from the routers' source: `#[utoipa::path(get, path = "/path")]` on a handler, or
/// `.route("/path", get(a).post(b))`.
fn rest_operations() -> Vec<String> {
    let mut operations = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("api/src/rest")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        // `/auth/*` is reached without credentials: tests/api/sessions.rs covers it. `/widget/v1/*` takes widget
        // tokens, never a member's or a key's: tests/api/widget.rs covers it (and that team credentials fail).
        // `/sso/*` is the browser's sign-in flow, reached without credentials: tests/api/sso/ covers it.
        // `mod.rs` serves the OpenAPI document, without credentials: tests/api/openapi.rs covers it.
        // `integration_callback.rs` is where a vendor's authorization page sends the browser back (the state
        // cookie and the member's session decide): tests/api/integrations.rs covers it.
        if file.ends_with("sign_in.rs")
            || file.ends_with("widget")
            || file.ends_with("sso.rs")
            || file.ends_with("integration_callback.rs")
            || file.ends_with("mod.rs")
        {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        // Documented routes: `#[utoipa::path(get, …, path = "/path", …)]` on each handler.
        for chunk in source.split("#[utoipa::path(").skip(1) {
            // A route documented with `security(())` takes no credentials (the WordPress plugin's download): no
            // role or plan decides it, and its own test covers it.
            let attribute = chunk.split(")]").next().unwrap_or_default();
            if attribute.contains("security(())") {
                continue;
            }
            let method = chunk.split(',').next().unwrap_or_default().trim();
            let Some((_, rest)) = chunk.split_once("path = \"") else {
                continue;
            };
            let path = rest.split('"').next().unwrap_or_default();
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
        for chunk in source.split(".route(").skip(1) {
            let chunk = chunk.trim_start();
            let Some(rest) = chunk.strip_prefix('"') else {
                continue;
            };
            let (path, handlers) = rest.split_once('"').unwrap();
            let handlers = handlers.split(")\n").next().unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = handlers
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
                if called {
                    operations.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
    }
    assert!(
        operations.len() >= 10,
        "the REST route scan found only {operations:?}"
    );
    operations
}

fn read_matrix() -> BTreeMap<Row, Vec<String>> {
    let text = std::fs::read_to_string(MATRIX).unwrap();
    let mut rows = BTreeMap::new();
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header = lines.next().unwrap();
    let expected_header = format!(
        "operation,plan,caller,{}",
        Role::ALL.map(|r| r.as_str()).join(",")
    );
    assert_eq!(header, expected_header, "{MATRIX} header");
    for line in lines {
        let cells: Vec<String> = line.split(',').map(|c| c.trim().to_owned()).collect();
        assert_eq!(
            cells.len(),
            3 + Role::ALL.len(),
            "{MATRIX}: bad row {line:?}"
        );
        let key = (cells[0].clone(), cells[1].clone(), cells[2].clone());
        let previous = rows.insert(key, cells[3..].to_vec());
        assert!(previous.is_none(), "{MATRIX}: duplicate row {line:?}");
    }
    rows
}

fn render(observed: &BTreeMap<Row, Vec<String>>, order: &[String]) -> String {
    let mut out = String::from(
        "# Who may call what: a service key (caller = key) or a signed-in member (caller = session) holding each\n\
         # role, in an organization on each plan. Keys are also bound by the plan's API tier; sessions are not.\n\
         # allow = the call succeeds; deny = 403 FORBIDDEN (the role); plan = 403 PLAN_UPGRADE_REQUIRED (the plan).\n\
         # Checked by tests/api/authz_matrix.rs; CONCIERGE_WRITE_MATRIX=1 rewrites it from what the server does.\n",
    );
    out.push_str(&format!(
        "operation,plan,caller,{}\n",
        Role::ALL.map(|r| r.as_str()).join(",")
    ));
    for operation in order {
        for plan in PLANS {
            for kind in Kind::ALL {
                let key = (
                    operation.clone(),
                    plan.as_str().to_owned(),
                    kind.as_str().to_owned(),
                );
                if let Some(cells) = observed.get(&key) {
                    out.push_str(&format!(
                        "{operation},{plan},{},{}\n",
                        kind.as_str(),
                        cells.join(",")
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_operation_answers_every_role_on_every_plan_as_the_checked_in_matrix_says() {
    let app = spawn_app_with(|settings| {
        settings.rate_limits = false;
        // The fixture endpoints point nowhere; their failures must not disable them mid-matrix.
        settings.webhook_disable_after = 1_000_000;
        // A HubSpot app is configured, and HubSpot is a closed port here: a connection test fails at once.
        settings.oauth_hubspot_client_id = Some("matrix-client".to_owned());
        settings.oauth_hubspot_client_secret = Some("matrix-secret".to_owned().into());
        settings.provider_base_urls = Some(format!("hubspot=http://127.0.0.1:{}", closed_port()));
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
    })
    .await;
    let mut operations = graphql_operations(&app).await;
    operations.extend(rest_operations());

    let mut orgs = Vec::new();
    for plan in PLANS {
        orgs.push(Org::new(&app, plan).await);
    }
    let mut observed = BTreeMap::new();
    let mut missing_probes = Vec::new();
    for operation in &operations {
        for org in &orgs {
            for kind in Kind::ALL {
                let mut row = Vec::new();
                for role in Role::ALL {
                    let Some(probe) = probe(&app, org, operation).await else {
                        missing_probes.push(operation.clone());
                        break;
                    };
                    let token = match kind {
                        Kind::Key => &org.keys[&role],
                        Kind::Session => &org.sessions[&role],
                    };
                    row.push(call(&app, token, probe).await);
                }
                let key = (
                    operation.clone(),
                    org.plan.as_str().to_owned(),
                    kind.as_str().to_owned(),
                );
                observed.insert(key, row);
            }
        }
    }
    missing_probes.dedup();
    assert!(
        missing_probes.is_empty(),
        "operations without a probe in tests/api/authz_matrix.rs: {missing_probes:?}"
    );
    if std::env::var_os("CONCIERGE_WRITE_MATRIX").is_some() {
        std::fs::write(MATRIX, render(&observed, &operations)).unwrap();
    }
    let expected = read_matrix();

    let served: BTreeSet<&String> = operations.iter().collect();
    let listed: BTreeSet<&String> = expected.keys().map(|(op, _, _)| op).collect();
    let unlisted: Vec<_> = served.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        unlisted.is_empty(),
        "operations without a row in {MATRIX}: {unlisted:?}"
    );
    assert!(
        stale.is_empty(),
        "rows in {MATRIX} for operations that no longer exist: {stale:?}"
    );

    let mut mismatches = Vec::new();
    let (mut allow, mut deny, mut plan) = (0, 0, 0);
    for (key, cells) in &observed {
        let (operation, plan_name, kind) = key;
        let want = expected.get(key).unwrap_or_else(|| {
            panic!("{MATRIX} has no row for {operation} on {plan_name} ({kind})")
        });
        for ((role, got), want) in Role::ALL.iter().zip(cells).zip(want) {
            match got.as_str() {
                "allow" => allow += 1,
                "deny" => deny += 1,
                "plan" => plan += 1,
                _ => {}
            }
            if got != want {
                mismatches.push(format!(
                    "{operation} / {plan_name} / {kind} / {role}: expected {want}, got {got}"
                ));
            }
        }
    }
    let cells = operations.len() * PLANS.len() * Kind::ALL.len() * Role::ALL.len();
    println!(
        "authorization matrix: {} operations x {} plans x {} callers (key, session) x {} roles = {cells} cells: {allow} allow, {} deny ({deny} by role, {plan} by plan)",
        operations.len(),
        PLANS.len(),
        Kind::ALL.len(),
        Role::ALL.len(),
        deny + plan
    );
    let thousands = |n: usize| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    crate::docs::generated_block(
        "docs/reference/authorization.md",
        "figures",
        &format!(
            "{} operations (every GraphQL root field and REST route) × {} plans × 2 callers (an API key and a \
             signed-in member) × {} roles = {} cells: {} allowed, {} denied by the role, {} denied by the plan.",
            operations.len(),
            PLANS.len(),
            Role::ALL.len(),
            thousands(cells),
            thousands(allow),
            thousands(deny),
            thousands(plan)
        ),
    );
    assert!(
        mismatches.is_empty(),
        "{} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Operations that name an object by id; pointed at another organization's object, each answers NOT_FOUND (a
/// top-level error, a 404, or a mutation's NOT_FOUND user error), or null for a [`LOOKUPS`] one.
const BY_ID: &[&str] = &[
    "Query.assistant",
    "Query.embedSnippet",
    "GET /assistants/{id}/embed",
    "Query.visitor",
    "Query.conversation",
    "Query.node",
    "Query.nodes",
    "Query.knowledgeBaseEntry",
    "Mutation.updateConversation",
    "Mutation.handOffConversation",
    "Mutation.resolveConversation",
    "Mutation.reopenConversation",
    "Mutation.closeConversation",
    "Mutation.updateVisitor",
    "Mutation.sendMessage",
    "Mutation.rateAnswer",
    "Mutation.rateConversation",
    "Mutation.updateKnowledgeBaseEntry",
    "Mutation.deleteKnowledgeBaseEntry",
    "Mutation.updateAssistant",
    "Mutation.rotateApiKey",
    "Mutation.revokeApiKey",
    "Mutation.revokeSession",
    "DELETE /sessions/{id}",
    "Query.ssoConnection",
    "Mutation.updateSsoConnection",
    "Mutation.deleteSsoConnection",
    "Mutation.testSsoConnection",
    "Mutation.changeMemberRole",
    "Mutation.deactivateMember",
    "GET /conversations/{id}",
    "PUT /conversations/{id}",
    "GET /visitors/{id}",
    "PUT /visitors/{id}",
    "GET /conversations/{id}/messages",
    "POST /conversations/{id}/messages",
    "POST /conversations/{id}/attachments",
    "POST /conversations/{id}/feedback",
    "POST /messages/{id}/feedback",
    "GET /knowledge-base/{id}",
    "PUT /knowledge-base/{id}",
    "DELETE /knowledge-base/{id}",
    "DELETE /api-keys/{id}",
    "POST /api-keys/{id}/rotate",
    "Query.webhook",
    "Mutation.updateWebhook",
    "Mutation.deleteWebhook",
    "Mutation.rotateWebhookSecret",
    "Mutation.updateNotificationRule",
    "Mutation.deleteNotificationRule",
    "PUT /notification-rules/{id}",
    "DELETE /notification-rules/{id}",
    "GET /webhooks/{id}",
    "PUT /webhooks/{id}",
    "DELETE /webhooks/{id}",
    "POST /webhooks/{id}/rotate-secret",
    "Query.webhookDeliveries",
    "GET /webhooks/{id}/deliveries",
    "Mutation.redeliverWebhook",
    "Mutation.replayWebhook",
    "Mutation.testWebhook",
    "POST /webhooks/{id}/deliveries/{delivery_id}/redeliver",
    "POST /webhooks/{id}/replay",
    "POST /webhooks/{id}/test",
];

/// The single-object lookups of [`BY_ID`]: an object the caller cannot see reads as null, without an error.
const LOOKUPS: &[&str] = &[
    "Query.embedSnippet",
    "Query.node",
    "Query.nodes",
    "Query.assistant",
    "Query.visitor",
    "Query.conversation",
    "Query.knowledgeBaseEntry",
    "Query.ssoConnection",
    "Query.webhook",
];

/// Counts that any of the [`BY_ID`] changes would move.
const CHANGES: &[&str] = &[
    "messages",
    "feedback",
    "knowledge_base_entries",
    "knowledge_base_entries WHERE title = 'Shipping times'",
    "conversations WHERE subject IS NOT NULL",
    "conversations WHERE status <> 'open'",
    "visitors WHERE name LIKE 'Changed%'",
    "assistants WHERE name = 'Helper'",
    "api_keys WHERE revoked_at IS NOT NULL OR previous_secret_hash IS NOT NULL",
    "users WHERE role = 'analyst' OR NOT active",
    "sessions WHERE revoked_at IS NOT NULL",
    "sso_connections",
    "sso_domains",
    "webhooks",
    "webhooks WHERE description IS NOT NULL OR previous_secret_sealed IS NOT NULL",
    "webhook_deliveries",
    "audit_log",
];

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in CHANGES {
        counts.push(app.count_rows(table).await);
    }
    counts
}

#[tokio::test]
async fn another_organizations_objects_answer_not_found_on_both_surfaces_and_stay_unchanged() {
    let app = spawn_app_with(|settings| {
        settings.rate_limits = false;
        // The fixture endpoints point nowhere; their failures must not disable them mid-matrix.
        settings.webhook_disable_after = 1_000_000;
    })
    .await;
    let ours = Org::new(&app, Plan::Premium).await;
    let theirs = Org::new(&app, Plan::Premium).await;
    let mut probes = Vec::new();
    for operation in BY_ID {
        probes.push((operation, probe(&app, &theirs, operation).await.unwrap()));
    }
    let before = snapshot(&app).await;
    let mut wrong = Vec::new();
    for (operation, probe) in probes {
        let key = &ours.keys[&Role::Owner];
        if LOOKUPS.contains(operation) {
            let Probe::Graphql(query, variables) = probe else {
                unreachable!("{operation} is a GraphQL query")
            };
            let reply = app.graphql_as(key, &query, variables).await;
            let field = operation.trim_start_matches("Query.");
            let null = reply.status.is_success()
                && reply.body.get("errors").is_none()
                && reply.body["data"]
                    .get(field)
                    .is_some_and(|v| v.is_null() || *v == json!([null]));
            if !null {
                wrong.push(format!("{operation}: not null: {}", reply.text));
            }
            continue;
        }
        let got = call(&app, key, probe).await;
        let not_found = got.starts_with("error 404 Not Found NOT_FOUND")
            || got.starts_with("error 200 OK NOT_FOUND");
        if !not_found {
            wrong.push(format!("{operation}: {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "neither NOT_FOUND nor null:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "a cross-organization call changed something"
    );

    // Federation answers an entity it cannot see with null, as the gateway expects, never with its data.
    let Some(Probe::Graphql(query, variables)) = probe(&app, &theirs, "Query._entities").await
    else {
        unreachable!()
    };
    let reply = app
        .graphql_as(&ours.keys[&Role::Owner], &query, variables)
        .await;
    assert_eq!(
        reply.body["data"]["_entities"],
        json!([null]),
        "{}",
        reply.text
    );
    // An id inside a body that is not the caller's reads like an unknown one: 422 naming the field.
    let Some(Probe::Rest(method, path, body)) = probe(&app, &theirs, "POST /conversations").await
    else {
        unreachable!()
    };
    let reply = app
        .send(
            method,
            &format!("/api/v1{path}"),
            Some(ours.keys[&Role::Owner].as_str()),
            body,
        )
        .await;
    assert_eq!(
        reply.status,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(reply.text.contains("assistant_id"), "{}", reply.text);
    assert_eq!(snapshot(&app).await, before);
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
