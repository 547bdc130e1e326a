//! The embed widget's visitor side: widget sessions, and a visitor's own conversations, messages and ratings.
//!
//! A website visitor has no account. The widget starts a session for an assistant (`POST /widget/v1/sessions`),
//! which creates the visitor and answers a bearer token (`cw_…`, stored only as a hash) that the widget keeps
//! in the site's local storage, so the conversation follows the visitor across the site's pages. Every other
//! call carries the token and acts as a [`Principal`] whose actor is [`Actor::Visitor`]: authorization allows
//! it the `widget` object only, and every query here is narrowed to the visitor's own conversations with that
//! assistant, so another visitor's conversation answers NOT_FOUND. When the assistant lists allowed origins,
//! only pages of those origins may start or use a session.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entities::{assistant, conversation, feedback, message, visitor, widget_session};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use serde_json::json;

use crate::assistant::Engine;
use crate::auth::{Actor, Origin, Plan, Principal, Role, tokens};
use crate::authz::{Action, Authz, Resource, Tenant, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::assistants::{self, WidgetSettings};
use crate::service::conversations::answer::{self, Page};
use crate::service::conversations::feedback::{self as ratings, RateAnswer, RateConversation};
use crate::service::conversations::messages::{self, Direction, PostedMessage};
use crate::service::conversations::posting::{self, CreateConversation, Created};
use crate::service::conversations::visitors::{self, NewVisitor, UpdateVisitor};
use crate::service::conversations::{self, Status};
use crate::service::identity::organizations;
use crate::service::{PageRequest, Patch, newest_first, now, optional_field};

/// Widget session tokens start with this.
pub const TOKEN_PREFIX: &str = "cw_";

/// How often a session's last use is written (its expiry moves with it).
const TOUCH_EVERY_MINUTES: i64 = 60;

/// Where a widget request comes from: the page's origin and the client.
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// The `Origin` header, when the browser sent one.
    pub origin: Option<String>,
    /// The page is one of this server's own: the console's preview of the widget, which every assistant
    /// allows whatever its allowed origins.
    pub own_page: bool,
    pub client: Origin,
}

/// Input of `POST /widget/v1/sessions`.
#[derive(Clone, Debug)]
pub struct StartSession {
    pub assistant_id: String,
    /// What a pre-chat form asked, if anything.
    pub visitor: Option<NewVisitor>,
}

/// A started session: the token is shown once.
#[derive(Clone, Debug)]
pub struct Started {
    pub token: String,
    pub session: widget_session::Model,
    pub visitor: visitor::Model,
    pub assistant: assistant::Model,
}

/// The caller's session as the widget needs it on every page load.
#[derive(Clone, Debug)]
pub struct Current {
    pub session: widget_session::Model,
    pub visitor: visitor::Model,
    pub assistant: assistant::Model,
    /// The newest conversation that is not closed, to resume.
    pub conversation: Option<conversation::Model>,
}

/// Input of `POST /widget/v1/conversations`: the assistant and the visitor come from the session.
#[derive(Clone, Debug, Default)]
pub struct StartConversation {
    pub initial_message: Option<String>,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

/// Input of `POST /widget/v1/conversations/{id}/messages`: always a visitor message.
#[derive(Clone, Debug)]
pub struct SendMessage {
    /// May be blank when the message carries attachments.
    pub body: String,
    /// Screenshots uploaded to the conversation (`POST …/attachments`) that the message carries.
    pub attachment_ids: Vec<String>,
    /// The page the visitor asks from, when it moved on from where the conversation started: the answer is
    /// ranked for this page.
    pub page_url: Option<String>,
    pub page_title: Option<String>,
    pub page_context: Option<String>,
}

impl SendMessage {
    /// The page of the question, checked; `None` when no page field was given.
    fn page(&self) -> ApiResult<Option<Page>> {
        if self.page_url.is_none() && self.page_title.is_none() && self.page_context.is_none() {
            return Ok(None);
        }
        Ok(Some(Page {
            url: self
                .page_url
                .as_deref()
                .map(|url| assistants::validate_url("page_url", url))
                .transpose()?,
            title: optional_field("page_title", self.page_title.as_deref(), 500)?,
            context: optional_field(
                "page_context",
                self.page_context.as_deref(),
                conversations::CONTEXT_MAX,
            )?,
        }))
    }
}

/// Starts a widget session for `input.assistant_id`: creates the visitor and answers its token.
#[tracing::instrument(skip_all)]
pub async fn start_session(
    db: &Db,
    authz: &Arc<Authz>,
    idle_days: u32,
    input: StartSession,
    site: &Site,
) -> ApiResult<Started> {
    let assistant_id = ids::parse(Kind::Assistant, "assistant_id", &input.assistant_id)?;
    let visitor_input = input.visitor.unwrap_or_default().validated()?;
    let assistant = assistant::Entity::find_by_id(assistant_id.clone())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("assistant", &assistant_id))?;
    check_origin(&assistants::widget(&assistant), site)?;
    let organization = organizations::find(db, &assistant.organization_id).await?;
    // The embed is on every plan; asking keeps the plan table the one place that says so.
    let probe = principal(
        authz,
        &organization,
        Actor::Visitor {
            id: String::new(),
            session_id: String::new(),
            assistant_id: assistant.id.clone(),
        },
        site,
    )?;
    authorize(&probe, Resource::Widget, Action::Write).await?;
    let token = tokens::random(TOKEN_PREFIX);
    let at = now();
    let txn = db.begin_write().await?;
    let visitor = visitors::insert(&*txn, &organization.id, visitor_input).await?;
    let session = widget_session::ActiveModel {
        id: Set(new_id(Kind::WidgetSession)),
        organization_id: Set(organization.id.clone()),
        assistant_id: Set(assistant.id.clone()),
        visitor_id: Set(visitor.id.clone()),
        token_hash: Set(tokens::hash(&token)),
        origin: Set(site.origin.as_ref().map(|o| o.chars().take(300).collect())),
        ip: Set(site.client.ip.clone()),
        user_agent: Set(site.client.user_agent.clone()),
        created_at: Set(at),
        last_seen_at: Set(at),
        expires_at: Set(at + Duration::days(i64::from(idle_days))),
    }
    .insert(&*txn)
    .await?;
    txn.commit().await?;
    Ok(Started {
        token,
        session,
        visitor,
        assistant,
    })
}

/// The visitor a widget token stands for, on a page of an allowed origin.
pub async fn authenticate(
    db: &Db,
    authz: &Arc<Authz>,
    idle_days: u32,
    token: &str,
    site: &Site,
) -> ApiResult<Principal> {
    if !tokens::is_well_formed(token, TOKEN_PREFIX) {
        return Err(ApiError::Unauthenticated(
            "malformed widget token: start a session with POST /widget/v1/sessions".to_owned(),
        ));
    }
    let session = widget_session::Entity::find()
        .filter(widget_session::Column::TokenHash.eq(tokens::hash(token)))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("unknown widget session".to_owned()))?;
    let at = now();
    if session.expires_at <= at {
        return Err(ApiError::Unauthenticated(
            "widget session expired: start a new one".to_owned(),
        ));
    }
    let assistant = assistant::Entity::find_by_id(session.assistant_id.clone())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the assistant was deleted".to_owned()))?;
    check_origin(&assistants::widget(&assistant), site)?;
    let organization = organizations::find(db, &session.organization_id).await?;
    if at - session.last_seen_at >= Duration::minutes(TOUCH_EVERY_MINUTES) {
        touch(db, &session, at, idle_days).await?;
    }
    principal(
        authz,
        &organization,
        Actor::Visitor {
            id: session.visitor_id,
            session_id: session.id,
            assistant_id: session.assistant_id,
        },
        site,
    )
}

/// Moves a session's last use and idle expiry forward.
async fn touch(
    db: &Db,
    session: &widget_session::Model,
    at: DateTime<Utc>,
    idle_days: u32,
) -> ApiResult<()> {
    widget_session::Entity::update_many()
        .col_expr(widget_session::Column::LastSeenAt, Expr::value(at))
        .col_expr(
            widget_session::Column::ExpiresAt,
            Expr::value(at + Duration::days(i64::from(idle_days))),
        )
        .filter(widget_session::Column::Id.eq(&session.id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// The visitor principal of an organization.
fn principal(
    authz: &Arc<Authz>,
    organization: &entities::organization::Model,
    actor: Actor,
    site: &Site,
) -> ApiResult<Principal> {
    Ok(Principal {
        organization: Tenant::new(organization.id.clone()),
        plan: Plan::stored(&organization.plan)?,
        role: Role::Viewer,
        actor,
        origin: site.client.clone(),
        scopes: None,
        authz: authz.clone(),
    })
}

/// Refuses every page while the assistant's widget is turned off, and pages of an origin that its settings do not
/// list.
fn check_origin(widget: &WidgetSettings, site: &Site) -> ApiResult<()> {
    if !widget.enabled {
        return Err(ApiError::Forbidden(
            "this assistant's widget is turned off: turn it on in the assistant's widget settings"
                .to_owned(),
        ));
    }
    if site.own_page || widget.allows_origin(site.origin.as_deref()) {
        return Ok(());
    }
    Err(ApiError::Forbidden(match &site.origin {
        Some(origin) => format!(
            "this assistant's widget is not allowed on {origin}: add it to the widget's allowed origins"
        ),
        None => {
            "this assistant's widget accepts only pages of its allowed origins, and the request \
                 carried no Origin header"
                .to_owned()
        }
    }))
}

/// The visitor, session and assistant of a visitor principal.
struct Me<'p> {
    org: &'p str,
    visitor_id: &'p str,
    session_id: &'p str,
    assistant_id: &'p str,
}

/// Authorizes a widget action and names the visitor it is for.
async fn me(principal: &Principal, action: Action) -> ApiResult<Me<'_>> {
    let grant = authorize(principal, Resource::Widget, action).await?;
    let Actor::Visitor {
        id,
        session_id,
        assistant_id,
    } = &principal.actor
    else {
        return Err(ApiError::Forbidden(
            "the widget endpoints take a widget session token".to_owned(),
        ));
    };
    Ok(Me {
        org: grant.organization_id(),
        visitor_id: id,
        session_id,
        assistant_id,
    })
}

/// One of the visitor's conversations with the session's assistant; any other answers NOT_FOUND.
async fn own_conversation(
    conn: &impl sea_orm::ConnectionTrait,
    me: &Me<'_>,
    id: &str,
) -> ApiResult<conversation::Model> {
    let found = conversations::find(conn, me.org, id).await?;
    if found.visitor_id != me.visitor_id || found.assistant_id != me.assistant_id {
        return Err(ApiError::not_found("conversation", &found.id));
    }
    Ok(found)
}

/// The caller's session, visitor and assistant, and the conversation to resume.
pub async fn current(db: &Db, principal: &Principal) -> ApiResult<Current> {
    let me = me(principal, Action::Read).await?;
    let session = widget_session::Entity::find_by_id(me.session_id.to_owned())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("unknown widget session".to_owned()))?;
    let visitor = visitors::find(db.conn(), me.org, me.visitor_id).await?;
    let assistant = assistants::find(db.conn(), me.org, me.assistant_id).await?;
    let conversation = own_conversations(me.org, me.visitor_id, me.assistant_id)
        .filter(conversation::Column::Status.ne(Status::Closed.as_str()))
        .order_by_desc(conversation::Column::Id)
        .one(db.conn())
        .await?;
    Ok(Current {
        session,
        visitor,
        assistant,
        conversation,
    })
}

/// The conversations of a visitor with an assistant.
fn own_conversations(
    org: &str,
    visitor_id: &str,
    assistant_id: &str,
) -> sea_orm::Select<conversation::Entity> {
    conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(org))
        .filter(conversation::Column::VisitorId.eq(visitor_id))
        .filter(conversation::Column::AssistantId.eq(assistant_id))
}

/// Changes the visitor's own contact details (a pre-chat form, an email left for follow-up).
pub async fn update_visitor(
    db: &Db,
    principal: &Principal,
    input: UpdateVisitor,
) -> ApiResult<visitor::Model> {
    let me = me(principal, Action::Write).await?;
    visitors::update_in(db, me.org, me.visitor_id, input).await
}

/// What the widget's contact form sends: the details a team (and the organization's CRM) can follow up with.
#[derive(Clone, Debug, Default)]
pub struct ContactForm {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The marketing-consent checkbox, when the form shows one: ticked gives consent, unticked withdraws it.
    pub marketing_consent: Option<bool>,
}

/// The words of the contact form's marketing-consent checkbox, when the organization keeps a mailing list
/// (a connected Mailchimp with an audience chosen); no checkbox otherwise.
pub async fn marketing_consent_label(db: &Db, organization_id: &str) -> ApiResult<Option<String>> {
    use crate::service::integrations::email::audience::AudienceSettings;
    use entities::integration;
    let list = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(organization_id))
        .filter(integration::Column::Provider.eq("mailchimp"))
        .filter(integration::Column::Status.eq("connected"))
        .one(db.conn())
        .await?;
    Ok(list
        .map(|row| AudienceSettings::stored(&row.settings))
        .filter(|settings| settings.audience_id.is_some())
        .map(|settings| settings.consent_label))
}

/// The visitor fills in the contact form of a conversation: their details are updated (`visitor.updated` when
/// they differ) and `visitor.form_submitted` is recorded in the conversation, in one transaction. An email or a
/// phone number is required: a form that leaves no way to reach the visitor is refused.
pub async fn submit_contact_form(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    form: ContactForm,
) -> ApiResult<visitor::Model> {
    let me = me(principal, Action::Write).await?;
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let (name, email, phone) = (given(form.name), given(form.email), given(form.phone));
    if email.is_none() && phone.is_none() {
        return Err(ApiError::validation(
            "email",
            "give an email address or a phone number",
        ));
    }
    let patch = |value: Option<String>| value.map_or(Patch::Keep, Patch::Set);
    let txn = db.begin_write().await?;
    let conversation = own_conversation(&*txn, &me, conversation_id).await?;
    let visitor = visitors::apply_update(
        &txn,
        me.org,
        me.visitor_id,
        UpdateVisitor {
            name: patch(name),
            email: patch(email),
            phone: patch(phone),
            marketing_consent: form.marketing_consent,
        },
    )
    .await?;
    let bumped = outbox::bump_conversation(&txn, me.org, &conversation.id).await?;
    outbox::record(
        &txn,
        me.org,
        names::VISITOR_FORM_SUBMITTED,
        Some(&bumped),
        json!({
            "visitor_id": visitor.id,
            "conversation_id": bumped.id,
            "name": visitor.name,
            "email": visitor.email,
            "phone": visitor.phone,
            "marketing_consent": visitor.marketing_consent,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(visitor)
}

/// Starts a conversation of the visitor with the session's assistant; an initial message is answered.
pub async fn start_conversation(
    db: &Db,
    engine: &Engine,
    principal: &Principal,
    input: StartConversation,
) -> ApiResult<Created> {
    let me = me(principal, Action::Write).await?;
    posting::start_conversation_in(
        db,
        engine,
        me.org,
        CreateConversation {
            assistant_id: Some(me.assistant_id.to_owned()),
            visitor_id: Some(me.visitor_id.to_owned()),
            visitor: None,
            initial_message: input.initial_message,
            subject: input.subject,
            source_url: input.source_url,
            page_context: input.page_context,
            page_title: input.page_title,
            browser: input.browser,
            device: input.device,
        },
    )
    .await
}

/// The visitor's conversations with the session's assistant, newest first.
pub async fn list_conversations(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> ApiResult<crate::service::Page<conversation::Model>> {
    let me = me(principal, Action::Read).await?;
    newest_first(
        db.conn(),
        own_conversations(me.org, me.visitor_id, me.assistant_id),
        conversation::Column::Id,
        page,
    )
    .await
}

/// One of the visitor's conversations.
pub async fn get_conversation(
    db: &Db,
    principal: &Principal,
    id: &str,
) -> ApiResult<conversation::Model> {
    let me = me(principal, Action::Read).await?;
    own_conversation(db.conn(), &me, id).await
}

/// A page of one of the visitor's conversations, oldest first after the cursor (the widget polls with the id
/// of the last message it shows).
pub async fn list_messages(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    page: &PageRequest,
) -> ApiResult<crate::service::Page<message::Model>> {
    let me = me(principal, Action::Read).await?;
    let conversation = own_conversation(db.conn(), &me, conversation_id).await?;
    messages::list_in(db, &conversation, page, Direction::Forward).await
}

/// Posts a visitor message to one of the visitor's conversations that is not closed; the assistant answers
/// unless the conversation was handed off. With `deltas`, an AI answer streams there as it is written.
pub async fn send_message(
    db: &Db,
    engine: &Engine,
    principal: &Principal,
    conversation_id: &str,
    input: SendMessage,
    deltas: Option<&tokio::sync::mpsc::Sender<String>>,
) -> ApiResult<PostedMessage> {
    let me = me(principal, Action::Write).await?;
    let attachment_ids = crate::service::attachments::validate_ids(
        &input.attachment_ids,
        engine.attachment_max_count(),
    )?;
    let body = messages::validate_text(
        "body",
        &input.body,
        engine.message_max_bytes(),
        !attachment_ids.is_empty(),
    )?;
    let page = input.page()?;
    let txn = db.begin_write().await?;
    let conversation = own_conversation(&*txn, &me, conversation_id).await?;
    if conversations::status(&conversation)? == Status::Closed {
        return Err(ApiError::Conflict(format!(
            "conversation {} is closed; start a new one",
            conversation.id
        )));
    }
    let incoming = answer::Incoming {
        body,
        attachment_ids,
        page,
    };
    answer::visitor_message(db, engine, txn, conversation, incoming, deltas).await
}

/// Keeps a screenshot the visitor uploads to one of their conversations that is not closed, for a message to
/// carry.
pub async fn upload(
    db: &Db,
    attachments: &crate::service::attachments::Attachments,
    principal: &Principal,
    conversation_id: &str,
    bytes: bytes::Bytes,
) -> ApiResult<entities::message_attachment::Model> {
    let me = me(principal, Action::Write).await?;
    let conversation = own_conversation(db.conn(), &me, conversation_id).await?;
    crate::service::attachments::open_for_messages(&conversation)?;
    attachments
        .upload(
            db,
            &conversation,
            crate::service::attachments::Source::Widget,
            bytes,
        )
        .await
}

/// Rates one assistant answer in the visitor's own conversations.
pub async fn rate_answer(
    db: &Db,
    principal: &Principal,
    message_id: &str,
    input: RateAnswer,
) -> ApiResult<feedback::Model> {
    let me = me(principal, Action::Write).await?;
    ratings::rate_answer_in(db, me.org, Some(me.visitor_id), message_id, input).await
}

/// Rates one of the visitor's conversations (CSAT).
pub async fn rate_conversation(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    input: RateConversation,
) -> ApiResult<feedback::Model> {
    let me = me(principal, Action::Write).await?;
    ratings::rate_conversation_in(db, me.org, Some(me.visitor_id), conversation_id, input).await
}

/// Ends the caller's widget session (the widget's "forget me"); its token stops working at once.
pub async fn end_session(db: &Db, principal: &Principal) -> ApiResult<()> {
    let me = me(principal, Action::Write).await?;
    widget_session::Entity::delete_many()
        .filter(widget_session::Column::Id.eq(me.session_id))
        .filter(widget_session::Column::OrganizationId.eq(me.org))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Deletes sessions past their idle expiry; answers how many.
pub async fn prune(db: &Db) -> ApiResult<u64> {
    let done = widget_session::Entity::delete_many()
        .filter(widget_session::Column::ExpiresAt.lte(now()))
        .exec(db.conn())
        .await?;
    Ok(done.rows_affected)
}
