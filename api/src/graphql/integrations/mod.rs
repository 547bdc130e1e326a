//! Integrations: the providers an organization can connect, its connections, their settings, tests and runs.

mod audience;
mod enums;
mod inputs;

pub use audience::*;
pub use enums::*;
pub use inputs::*;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::enums::Plan;
use crate::graphql::loaders::{ConversationKey, MemberKey, load_opt};
use crate::graphql::members::Member;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, Conversation, connection};
use crate::graphql::{caller, found, shared};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::integrations::connect::{self, AccountChoice, ConnectIntegration};
use crate::service::integrations::crm::settings::{self as crm, CrmSettingsPatch};
use crate::service::integrations::executor::Vendors;
use crate::service::integrations::helpdesk::settings::{self as helpdesk, HelpdeskSettingsPatch};
use crate::service::integrations::{self as svc, UpdateIntegration, runs};

fn vendors<'a>(ctx: &Context<'a>) -> Result<&'a Vendors, crate::error::ApiError> {
    shared::<std::sync::Arc<Vendors>>(ctx).map(|v| &**v)
}

/// A page of a connection's runs, newest first.
async fn run_page(
    ctx: &Context<'_>,
    integration_id: &str,
    first: Option<i32>,
    after: Option<&str>,
) -> async_graphql::Result<Conn<IntegrationRun>> {
    let (db, principal) = caller(ctx)?;
    let page = PageRequest::new(first.map(i64::from), after, Kind::IntegrationRun)?;
    let rows = runs::list(db, principal, integration_id, &page).await?;
    Ok(connection(
        rows,
        page.after.is_some(),
        0,
        |r| &r.job.id,
        IntegrationRun,
    ))
}

/// A vendor the organization can connect, with its connection if there is one.
pub struct IntegrationProvider(pub svc::Offered);

/// A vendor the organization can connect, with its connection if there is one.
#[Object]
impl IntegrationProvider {
    /// The provider.
    async fn key(&self) -> async_graphql::Result<IntegrationProviderKey> {
        Ok(IntegrationProviderKey::stored(self.0.provider.key)?)
    }
    /// The vendor's name.
    async fn name(&self) -> &str {
        self.0.provider.name
    }
    /// What kind of system it is.
    async fn category(&self) -> IntegrationCategory {
        self.0.provider.category.into()
    }
    /// Whether the organization's plan includes it.
    async fn included_in_plan(&self) -> bool {
        self.0.included
    }
    /// The lowest plan that includes it.
    async fn required_plan(&self) -> Option<Plan> {
        self.0.required_plan.map(Into::into)
    }
    /// Whether this server can connect it: the operator configured the vendor's OAuth app.
    async fn configured(&self) -> bool {
        self.0.configured
    }
    /// The redirect URI to register with the vendor's OAuth app.
    async fn redirect_uri(&self) -> Option<&str> {
        self.0.redirect_uri.as_deref()
    }
    /// Where the vendor's app sends its webhooks for every workspace that connects it: set it in the app's
    /// settings at the vendor (Intercom's Developer Hub, topics `conversation.admin.replied` and
    /// `conversation.admin.closed`). Null for vendors registered per connection.
    async fn events_url(&self) -> Option<&str> {
        self.0.events_url.as_deref()
    }
    /// How a connection to it may be authorized (OAuth only when `configured`).
    async fn auth_methods(&self) -> Vec<IntegrationAuthMethod> {
        let provider = self.0.provider;
        let mut methods = Vec::new();
        if provider.is_oauth() {
            methods.push(IntegrationAuthMethod::Oauth);
        }
        if provider.key_scheme().is_some() {
            methods.push(IntegrationAuthMethod::ApiKey);
        }
        if provider.auth == crate::service::integrations::providers::AuthKind::Smtp {
            methods.push(IntegrationAuthMethod::SmtpSettings);
        }
        methods
    }
    /// The organization's connection to it; null when it never connected it.
    async fn integration(&self) -> Option<Integration> {
        self.0.integration.clone().map(Integration)
    }
}

/// One field that identifies the vendor account a connection reaches.
#[derive(SimpleObject)]
pub struct IntegrationAccountField {
    /// What it is (`portal_id`, `instance_url`, `api_domain`, `login_host`, `data_centre`, `organization`).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The organization's connection to a vendor. Its credentials are sealed and never returned.
pub struct Integration(pub svc::Integration);

/// The organization's connection to a vendor. Its credentials are sealed and never returned.
#[Object]
impl Integration {
    /// The integration's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.model.id.clone())
    }
    /// The vendor.
    async fn provider(&self) -> async_graphql::Result<IntegrationProviderKey> {
        Ok(IntegrationProviderKey::stored(self.0.provider.key)?)
    }
    /// The vendor's name.
    async fn provider_name(&self) -> &str {
        self.0.provider.name
    }
    /// What kind of system it connects.
    async fn category(&self) -> IntegrationCategory {
        self.0.provider.category.into()
    }
    /// Where the connection stands.
    async fn status(&self) -> async_graphql::Result<IntegrationStatus> {
        Ok(self.0.status()?.into())
    }
    /// What identifies the vendor account it reaches.
    async fn account(&self) -> Vec<IntegrationAccountField> {
        self.0
            .account()
            .into_iter()
            .map(|(name, value)| IntegrationAccountField { name, value })
            .collect()
    }
    /// What last went wrong with the connection itself (its runs say what went wrong with each job); null when
    /// nothing did.
    async fn last_error(&self) -> Option<&str> {
        self.0.model.last_error.as_deref()
    }
    /// The member who connected it.
    async fn connected_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        load_opt(ctx, self.0.model.connected_by.as_ref(), MemberKey, Member).await
    }
    /// When it was last connected.
    async fn connected_at(&self) -> Option<Timestamp> {
        self.0.model.connected_at.map(Timestamp)
    }
    /// When the current access token expires (it is refreshed ahead of that).
    async fn token_expires_at(&self) -> Option<Timestamp> {
        self.0.model.token_expires_at.map(Timestamp)
    }
    /// The CRM settings; null unless it is a CRM.
    async fn crm(&self) -> Option<CrmSettings> {
        self.0.crm().map(CrmSettings)
    }
    /// Where the vendor posts its changes, for a vendor where the admin sets that up (Freshdesk: an automation
    /// rule that triggers a webhook to this URL). It holds a secret: keep it private (reconnecting changes it).
    /// Null for the others.
    async fn inbound_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.0.inbound_url(vendors(ctx)?))
    }
    /// The help-desk settings; null unless it is a help desk.
    async fn helpdesk(&self) -> Option<HelpdeskSettings> {
        self.0.helpdesk().map(HelpdeskSettings)
    }
    /// The mailing-list settings; null unless it keeps a mailing list (Mailchimp).
    async fn audience(&self) -> Option<AudienceSettings> {
        self.0.audience().map(AudienceSettings)
    }
    /// The account's audiences, as read when it was connected or last tested (`testIntegration` reads them
    /// again); empty for the others.
    async fn audiences(&self) -> Vec<IntegrationAudience> {
        self.0.audiences().into_iter().map(Into::into).collect()
    }
    /// The connection's runs, newest first, each with the vendor calls it made.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many runs to return: 1 to 100, 20 when omitted.")] first: Option<i32>,
        #[graphql(
            desc = "Returns the runs after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<IntegrationRun>> {
        run_page(ctx, &self.0.model.id, first, after.as_deref()).await
    }
    /// When it was first connected.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.model.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.model.updated_at)
    }
}

/// How a CRM connection syncs contacts and creates cases.
pub struct CrmSettings(pub crm::CrmSettings);

/// How a CRM connection syncs contacts and creates cases.
#[Object]
impl CrmSettings {
    /// How a visitor is matched to an existing contact.
    async fn contact_matching(&self) -> CrmContactMatching {
        self.0.contact_matching.into()
    }
    /// Whether a contact is created when none matches.
    async fn create_contact_if_missing(&self) -> bool {
        self.0.create_contact_if_missing
    }
    /// When a matched contact's fields are overwritten.
    async fn field_updates(&self) -> CrmFieldUpdates {
        self.0.field_updates.into()
    }
    /// What creates a case; empty when cases are never created.
    async fn case_creation(&self) -> Vec<CrmCaseTrigger> {
        self.0.case_creation.iter().map(|t| (*t).into()).collect()
    }
    /// Custom field mappings (premium); empty when the default mapping applies: the visitor's name, email and
    /// phone to the contact, the first question to the case's subject, the transcript to its description, and
    /// the page URL to the case.
    async fn field_mappings(&self) -> Vec<CrmFieldMapping> {
        self.0
            .field_mappings
            .iter()
            .map(|m| CrmFieldMapping {
                source: m.source.into(),
                object: m.object.into(),
                field: m.field.clone(),
            })
            .collect()
    }
    /// Whether the contact property "AI Assistant Interaction" is set at each interaction for HubSpot
    /// workflows to trigger on (premium).
    async fn workflow_trigger(&self) -> bool {
        self.0.workflow_trigger
    }
    /// The unique contact field that holds the visitor's id, by which contacts are upserted (premium); null
    /// when contacts are created plainly.
    async fn visitor_id_field(&self) -> Option<&str> {
        self.0.visitor_id_field.as_deref()
    }
}

/// What opens help-desk tickets, and how they are prioritized, typed and tagged.
pub struct HelpdeskSettings(pub helpdesk::HelpdeskSettings);

/// What opens help-desk tickets, and how they are prioritized, typed and tagged.
#[Object]
impl HelpdeskSettings {
    /// What opens a ticket; empty when tickets are never opened.
    async fn ticket_creation(&self) -> Vec<HelpdeskTicketTrigger> {
        self.0.ticket_creation.iter().map(|t| (*t).into()).collect()
    }
    /// With `INTENT`: the intents (of the assistants' intents) that open a ticket.
    async fn intents(&self) -> &[String] {
        &self.0.intents
    }
    /// With `FAILED_RESPONSES`: after this many unanswered questions in one conversation.
    async fn failed_responses(&self) -> u32 {
        self.0.failed_responses
    }
    /// The priority when the visitor's messages were negative on the whole.
    async fn negative_sentiment_priority(&self) -> HelpdeskTicketPriority {
        self.0.negative_sentiment_priority.into()
    }
    /// Keywords in the visitor's messages that raise the priority (the highest that matches wins).
    async fn priority_keywords(&self) -> Vec<HelpdeskPriorityRule> {
        self.0
            .priority_keywords
            .iter()
            .map(|r| HelpdeskPriorityRule {
                keyword: r.keyword.clone(),
                priority: r.priority.into(),
            })
            .collect()
    }
    /// The priority when no rule applies.
    async fn default_priority(&self) -> HelpdeskTicketPriority {
        self.0.default_priority.into()
    }
    /// The ticket type by intent or keyword, first match in order.
    async fn type_rules(&self) -> Vec<HelpdeskTypeRule> {
        self.0
            .type_rules
            .iter()
            .map(|r| HelpdeskTypeRule {
                intent: r.intent.clone(),
                keyword: r.keyword.clone(),
                ticket_type: r.ticket_type.into(),
            })
            .collect()
    }
    /// The type when no rule applies.
    async fn default_type(&self) -> HelpdeskTicketType {
        self.0.default_type.into()
    }
    /// Tags added to every ticket, beside the automatic ones (`concierge`, the intent, the page, the sentiment
    /// and the assistant).
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Who gets a new ticket (Freshdesk).
    async fn assignment(&self) -> HelpdeskAssignment {
        let a = &self.0.assignment;
        HelpdeskAssignment {
            mode: a.mode.into(),
            agents: a.agents.clone(),
            rules: a
                .rules
                .iter()
                .map(|r| HelpdeskAssignmentRule {
                    intent: r.intent.clone(),
                    keyword: r.keyword.clone(),
                    group_id: r.group_id.clone(),
                    agent_ids: r.agent_ids.clone(),
                })
                .collect(),
        }
    }
}

/// Who gets a new ticket in the help desk (Freshdesk).
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "HelpdeskAssignmentInput")]
pub struct HelpdeskAssignment {
    /// How.
    pub mode: HelpdeskAssignmentMode,
    /// The agents of `ROUND_ROBIN` and `LOAD_BALANCED` (the help desk's agent ids).
    pub agents: Vec<String>,
    /// The rules of `BY_TOPIC` and `SKILLS`, first match wins.
    pub rules: Vec<HelpdeskAssignmentRule>,
}

/// A rule of topic or skills assignment.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "HelpdeskAssignmentRuleInput")]
pub struct HelpdeskAssignmentRule {
    /// The conversation's intent that the rule matches (or give a keyword).
    pub intent: Option<String>,
    /// A word or phrase in the visitor's messages that the rule matches (or give an intent).
    pub keyword: Option<String>,
    /// The help desk's group the ticket goes to (`BY_TOPIC`).
    pub group_id: Option<String>,
    /// The help desk's agents: the one the ticket goes to (`BY_TOPIC`, the first), or those with the skill
    /// (`SKILLS`).
    pub agent_ids: Vec<String>,
}

/// A keyword that raises a ticket's priority.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "HelpdeskPriorityRuleInput")]
pub struct HelpdeskPriorityRule {
    /// A word or phrase in the visitor's messages (whole words, any case).
    pub keyword: String,
    /// The priority it gives.
    pub priority: HelpdeskTicketPriority,
}

/// A ticket type chosen by intent or keyword.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "HelpdeskTypeRuleInput")]
pub struct HelpdeskTypeRule {
    /// The conversation's intent that chooses the type (or give a keyword).
    pub intent: Option<String>,
    /// A word or phrase in the visitor's messages that chooses the type (or give an intent).
    pub keyword: Option<String>,
    /// The type.
    pub ticket_type: HelpdeskTicketType,
}

/// One value written to one CRM field.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "CrmFieldMappingInput")]
pub struct CrmFieldMapping {
    /// What is written.
    pub source: CrmMappingSource,
    /// The object it is written to.
    pub object: CrmObject,
    /// The field's API name in the CRM (`Description`, `lifecyclestage`, `Custom_Field__c`).
    pub field: String,
}

/// One vendor call a run made.
#[derive(SimpleObject)]
pub struct IntegrationCall {
    /// The HTTP method.
    pub method: String,
    /// The path and query called (without credentials).
    pub path: String,
    /// The HTTP status the vendor answered; null when no answer came.
    pub status_code: Option<i32>,
    /// How long the call took, in milliseconds.
    pub duration_ms: i64,
    /// The class of failure; null when the call succeeded.
    pub error_class: Option<IntegrationErrorClass>,
    /// The start of the vendor's answer, or what went wrong.
    pub excerpt: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// One job of an integration: what it did, what came of it, and the vendor calls it made.
pub struct IntegrationRun(pub runs::Run);

/// One job of an integration: what it did, what came of it, and the vendor calls it made.
#[Object]
impl IntegrationRun {
    /// The run's id.
    async fn id(&self) -> ID {
        ID(self.0.job.id.clone())
    }
    /// What it does.
    async fn kind(&self) -> async_graphql::Result<IntegrationRunKind> {
        Ok(runs::JobKind::named(&self.0.job.kind)
            .ok_or_else(|| crate::error::ApiError::internal_msg("stored job kind"))?
            .into())
    }
    /// The type of event that caused it (`handoff.requested`), or `manual`.
    async fn trigger(&self) -> &str {
        &self.0.job.trigger
    }
    /// Where it stands.
    async fn status(&self) -> async_graphql::Result<IntegrationRunStatus> {
        Ok(runs::JobStatus::named(&self.0.job.status)
            .ok_or_else(|| crate::error::ApiError::internal_msg("stored job status"))?
            .into())
    }
    /// How many times it was tried.
    async fn attempt_count(&self) -> i32 {
        self.0.job.attempts
    }
    /// When the next try is due; null unless it is pending.
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        (self.0.job.status == runs::JobStatus::Pending.as_str())
            .then_some(Timestamp(self.0.job.next_attempt_at))
    }
    /// Records created at the vendor.
    async fn records_created(&self) -> i32 {
        self.0.job.created
    }
    /// Records updated at the vendor.
    async fn records_updated(&self) -> i32 {
        self.0.job.updated
    }
    /// Records left alone (already up to date, or the settings say not to touch them).
    async fn records_skipped(&self) -> i32 {
        self.0.job.skipped
    }
    /// Records the vendor refused.
    async fn records_failed(&self) -> i32 {
        self.0.job.failed
    }
    /// What happened, in words: what was done, or why not.
    async fn outcome(&self) -> Option<&str> {
        self.0.job.outcome.as_deref()
    }
    /// The class of failure; null unless it failed or is waiting to retry.
    async fn error_class(&self) -> async_graphql::Result<Option<IntegrationErrorClass>> {
        Ok(match &self.0.job.error_class {
            Some(class) => Some(IntegrationErrorClass::stored(class)?),
            None => None,
        })
    }
    /// The conversation it is about.
    async fn conversation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Conversation>> {
        load_opt(
            ctx,
            self.0.job.conversation_id.as_ref(),
            ConversationKey,
            Conversation,
        )
        .await
    }
    /// The vendor calls it made, oldest first.
    async fn calls(&self) -> async_graphql::Result<Vec<IntegrationCall>> {
        self.0
            .calls
            .iter()
            .map(|c| {
                Ok(IntegrationCall {
                    method: c.method.clone(),
                    path: c.path.clone(),
                    status_code: c.status_code,
                    duration_ms: c.duration_ms,
                    error_class: match &c.error_class {
                        Some(class) => Some(IntegrationErrorClass::stored(class)?),
                        None => None,
                    },
                    excerpt: c.excerpt.clone(),
                    created_at: Timestamp(c.created_at),
                })
            })
            .collect()
    }
    /// When it was owed.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.job.created_at)
    }
    /// When it finished; null while it is pending.
    async fn finished_at(&self) -> Option<Timestamp> {
        self.0.job.finished_at.map(Timestamp)
    }
}

#[derive(Default)]
pub struct IntegrationQuery;

#[Object]
impl IntegrationQuery {
    /// Every vendor the organization can connect: its category, whether the plan includes it, whether this
    /// server can connect it, and the organization's connection.
    async fn integrations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<IntegrationProvider>> {
        let (_, principal) = caller(ctx)?;
        let offered = svc::list(vendors(ctx)?, principal).await?;
        Ok(offered.into_iter().map(IntegrationProvider).collect())
    }

    /// One of the organization's integrations; null when it has none with this id.
    async fn integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The integration's id.")] id: ID,
    ) -> async_graphql::Result<Option<Integration>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, svc::get(db, principal, &id).await)?.map(Integration))
    }

    /// The runs of one integration, newest first, each with the vendor calls it made.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn integration_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The integration whose runs to list.")] integration_id: ID,
        #[graphql(desc = "How many runs to return: 1 to 100, 20 when omitted.")] first: Option<i32>,
        #[graphql(
            desc = "Returns the runs after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<IntegrationRun>> {
        run_page(ctx, &integration_id, first, after.as_deref()).await
    }
}

payload_type! {
    /// The result of `connectIntegration`.
    ConnectIntegrationPayload {
        /// The integration, pending until the vendor's authorization page sends the browser back.
        integration: Option<Integration>,
        /// Where to send the browser to authorize the connection at the vendor; this response also sets a
        /// short-lived cookie that binds the authorization to the browser. Null when the integration is
        /// connected already (with a key).
        authorize_url: Option<String>,
        /// What the vendor said of the account, when it is connected already (with a key).
        message: Option<String>,
    }
}

payload_type! {
    /// The result of `updateIntegration`.
    IntegrationPayload {
        /// The integration as changed.
        integration: Option<Integration>,
    }
}

payload_type! {
    /// The result of `disconnectIntegration`.
    DisconnectIntegrationPayload {
        /// The integration, disconnected.
        integration: Option<Integration>,
        /// What the vendor said to the revocation of the authorization, in words.
        revocation: Option<String>,
    }
}

payload_type! {
    /// The result of `testIntegration`.
    TestIntegrationPayload {
        /// The integration.
        integration: Option<Integration>,
        /// Whether the vendor answered as expected.
        success: Option<bool>,
        /// What the vendor answered, in words.
        message: Option<String>,
        /// The run that records the calls made.
        run: Option<IntegrationRun>,
    }
}

#[derive(Default)]
pub struct IntegrationMutation;

#[Object]
impl IntegrationMutation {
    /// Starts connecting a vendor: for an OAuth vendor, answers the URL of its authorization page, to which the
    /// same browser goes; the vendor then sends it back to `returnTo` with the outcome.
    async fn connect_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The vendor to connect.")] input: ConnectIntegrationInput,
    ) -> async_graphql::Result<Option<ConnectIntegrationPayload>> {
        let (_, principal) = caller(ctx)?;
        let vendors = vendors(ctx)?;
        let account = input.account.unwrap_or_default();
        let credentials = input.credentials.unwrap_or_default();
        let input = ConnectIntegration {
            provider: input.provider.name().to_owned(),
            return_to: input.return_to,
            api_key: credentials.api_key,
            email: credentials.email,
            account: AccountChoice {
                environment: account.environment,
                my_domain: account.my_domain,
                data_centre: account.data_centre,
                subdomain: account.subdomain,
            },
            smtp: input.smtp.map(Into::into),
        };
        let result = connect::connect(vendors, principal, input).await;
        if let Ok(started) = &result
            && let Some(state) = &started.state
        {
            ctx.append_http_header(
                "set-cookie",
                crate::rest::integration_callback::state_cookie(&vendors.settings, state),
            );
        }
        payload(ctx, result, Args::Input, |started| {
            ConnectIntegrationPayload {
                integration: Some(Integration(started.integration)),
                authorize_url: started.authorize_url,
                message: started.message,
                ..Default::default()
            }
        })
    }

    /// Changes an integration's settings.
    async fn update_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The integration to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateIntegrationInput,
    ) -> async_graphql::Result<Option<IntegrationPayload>> {
        let (db, principal) = caller(ctx)?;
        let input = UpdateIntegration {
            crm: input.crm.map(|crm| CrmSettingsPatch {
                contact_matching: crm.contact_matching.map(Into::into),
                create_contact_if_missing: crm.create_contact_if_missing,
                field_updates: crm.field_updates.map(Into::into),
                case_creation: crm
                    .case_creation
                    .map(|t| t.into_iter().map(Into::into).collect()),
                field_mappings: crm.field_mappings.map(|m| {
                    m.into_iter()
                        .map(|m| crm::FieldMapping {
                            source: m.source.into(),
                            object: m.object.into(),
                            field: m.field,
                        })
                        .collect()
                }),
                workflow_trigger: crm.workflow_trigger,
                visitor_id_field: match crm.visitor_id_field {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => Some(None),
                    MaybeUndefined::Value(field) => Some(Some(field)),
                },
            }),
            helpdesk: input.helpdesk.map(|h| HelpdeskSettingsPatch {
                ticket_creation: h
                    .ticket_creation
                    .map(|t| t.into_iter().map(Into::into).collect()),
                intents: h.intents,
                failed_responses: h.failed_responses.map(i64::from),
                negative_sentiment_priority: h.negative_sentiment_priority.map(Into::into),
                priority_keywords: h.priority_keywords.map(|rules| {
                    rules
                        .into_iter()
                        .map(|r| helpdesk::PriorityRule {
                            keyword: r.keyword,
                            priority: r.priority.into(),
                        })
                        .collect()
                }),
                default_priority: h.default_priority.map(Into::into),
                type_rules: h.type_rules.map(|rules| {
                    rules
                        .into_iter()
                        .map(|r| helpdesk::TypeRule {
                            intent: r.intent,
                            keyword: r.keyword,
                            ticket_type: r.ticket_type.into(),
                        })
                        .collect()
                }),
                default_type: h.default_type.map(Into::into),
                tags: h.tags,
                assignment: h.assignment.map(|a| helpdesk::Assignment {
                    mode: a.mode.into(),
                    agents: a.agents,
                    rules: a
                        .rules
                        .into_iter()
                        .map(|r| helpdesk::AssignmentRule {
                            intent: r.intent,
                            keyword: r.keyword,
                            group_id: r.group_id,
                            agent_ids: r.agent_ids,
                        })
                        .collect(),
                }),
            }),
            audience: input.audience.map(Into::into),
        };
        let result = svc::update(db, principal, &id, input).await;
        payload(ctx, result, Args::Input, |integration| IntegrationPayload {
            integration: Some(Integration(integration)),
            ..Default::default()
        })
    }

    /// Makes a real call to the vendor and says what it answered.
    async fn test_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The integration to test.")] id: ID,
    ) -> async_graphql::Result<Option<TestIntegrationPayload>> {
        let (_, principal) = caller(ctx)?;
        let result = svc::test(vendors(ctx)?, principal, &id).await;
        payload(ctx, result, Args::Top, |tested| TestIntegrationPayload {
            integration: Some(Integration(tested.integration)),
            success: Some(tested.success),
            message: Some(tested.message),
            run: Some(IntegrationRun(tested.run)),
            ..Default::default()
        })
    }

    /// Disconnects an integration: revokes its authorization at the vendor where the vendor allows it, forgets
    /// its credentials and cancels its pending runs.
    async fn disconnect_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The integration to disconnect.")] id: ID,
    ) -> async_graphql::Result<Option<DisconnectIntegrationPayload>> {
        let (_, principal) = caller(ctx)?;
        let result = svc::disconnect(vendors(ctx)?, principal, &id).await;
        payload(ctx, result, Args::Top, |done| {
            DisconnectIntegrationPayload {
                integration: Some(Integration(done.integration)),
                revocation: Some(done.revocation),
                ..Default::default()
            }
        })
    }
}
