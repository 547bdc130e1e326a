//! A CRM job run: the visitor's contact found (by the matching rule) or made, updated by the update policy; the
//! conversation's case made once and updated when it is resolved. Links make every step safe to run again.

use entities::integration_job;
use serde_json::{Map, Value};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::mapping::{self, Subject};
use crate::service::integrations::crm::settings::{
    ContactMatching, CrmObject, CrmSettings, FieldUpdates,
};
use crate::service::integrations::crm::{
    Created, MatchField, Remote, defaults, hubspot, salesforce, vendor, zoho,
};
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::links;
use crate::service::integrations::runs::JobKind;

/// What a run did: the counts the customer reads, and a sentence per step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub created: i32,
    pub updated: i32,
    pub skipped: i32,
    pub failed: i32,
    pub notes: Vec<String>,
}

impl Done {
    pub fn outcome(&self) -> String {
        self.notes.join("; ")
    }
}

/// One job, as its kind says; `advanced` is whether the plan includes the advanced CRM feature (custom
/// mappings, case rules and workflow triggers apply only then).
pub async fn run(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
    advanced: bool,
) -> Result<Done, Failure> {
    let mut settings = CrmSettings::stored(&connection.model.settings);
    if !advanced {
        let basic = CrmSettings::default();
        settings.field_mappings = basic.field_mappings;
        settings.workflow_trigger = basic.workflow_trigger;
        settings.visitor_id_field = basic.visitor_id_field;
    }
    let mut done = Done::default();
    let visitor_id = job.visitor_id.as_deref().unwrap_or(&job.subject);
    let Some(subject) = Subject::load(
        &vendors.db,
        visitor_id,
        job.conversation_id.as_deref(),
        &vendors.public_url,
    )
    .await?
    else {
        done.skipped += 1;
        done.notes
            .push("the visitor no longer exists here: nothing to send".to_owned());
        return Ok(done);
    };
    let sync = Sync {
        vendors,
        job_id: &job.id,
        settings: &settings,
        subject: &subject,
    };
    match JobKind::named(&job.kind) {
        Some(JobKind::ContactSync) => {
            sync.contact(connection, &mut done).await?;
        }
        Some(JobKind::CaseCreate) => {
            if !advanced && job.trigger != crate::events::names::HANDOFF_REQUESTED {
                done.skipped += 1;
                done.notes.push(
                    "the plan no longer includes case-creation rules other than on handoff"
                        .to_owned(),
                );
            } else {
                sync.open_case(connection, &mut done).await?;
            }
        }
        Some(JobKind::CaseUpdate) => sync.update_case(connection, &mut done).await?,
        Some(
            JobKind::Test
            | JobKind::AudienceSync
            | JobKind::VisitorEmail
            | JobKind::FollowUp
            | JobKind::TicketCreate
            | JobKind::TicketSync
            | JobKind::EmailSend
            | JobKind::Notify,
        )
        | None => {
            return Err(Failure::Configuration(format!(
                "a CRM does not run {} jobs",
                job.kind
            )));
        }
    }
    Ok(done)
}

struct Sync<'a> {
    vendors: &'a Vendors,
    job_id: &'a str,
    settings: &'a CrmSettings,
    subject: &'a Subject,
}

impl Sync<'_> {
    fn job(&self) -> Option<&str> {
        Some(self.job_id)
    }

    /// The contact fields, with the workflow trigger's property where it is on.
    fn contact_fields(&self, provider: &str) -> Map<String, Value> {
        let mut fields = self.subject.fields(
            defaults(provider),
            &self.settings.field_mappings,
            CrmObject::Contact,
        );
        if let Some(field) = &self.settings.visitor_id_field {
            fields.insert(
                field.clone(),
                Value::String(self.subject.visitor.id.clone()),
            );
        }
        if self.workflow_trigger(provider) {
            fields.insert(
                hubspot::INTERACTION_PROPERTY.to_owned(),
                Value::String(interaction_time(self.subject)),
            );
        }
        fields
    }

    fn workflow_trigger(&self, provider: &str) -> bool {
        self.settings.workflow_trigger && provider == "hubspot"
    }

    /// The visitor's contact: the linked one, else found by the matching rule, else made (if the settings
    /// allow); updated as the update policy says. `None` when there is no contact to work with.
    async fn contact(
        &self,
        connection: &mut Connection,
        done: &mut Done,
    ) -> Result<Option<String>, Failure> {
        let provider = connection.provider;
        let visitor = &self.subject.visitor;
        if self.workflow_trigger(provider.key) {
            hubspot::ensure_interaction_property(self.vendors, connection, self.job()).await?;
        }
        let fields = self.contact_fields(provider.key);
        let hash = mapping::hash(&fields);
        let integration_id = connection.model.id.clone();
        if let Some(link) =
            links::get(&self.vendors.db, &integration_id, "contact", &visitor.id).await?
        {
            if link.payload_hash.as_deref() == Some(hash.as_str()) {
                done.skipped += 1;
                done.notes.push(format!(
                    "{} contact {} is up to date",
                    provider.name, link.remote_id
                ));
                return Ok(Some(link.remote_id));
            }
            let current = vendor!(
                connection,
                get_contact(self.vendors, connection, self.job(), &link.remote_id)
            )?;
            match current {
                Some(remote) => {
                    self.apply_updates(connection, done, &remote, &fields, &hash)
                        .await?;
                    return Ok(Some(remote.id));
                }
                None => {
                    links::remove(&self.vendors.db, &integration_id, "contact", &visitor.id)
                        .await?;
                    done.notes.push(format!(
                        "{} contact {} no longer exists; looking for another",
                        provider.name, link.remote_id
                    ));
                }
            }
        }
        let keys = self.match_keys();
        if keys.is_empty() {
            done.skipped += 1;
            done.notes.push(format!(
                "the visitor left no {} to match a {} contact by",
                self.match_noun(),
                provider.name
            ));
            return Ok(None);
        }
        let mut matched: Option<Remote> = None;
        for (field, value) in &keys {
            let found = vendor!(
                connection,
                find_contacts(self.vendors, connection, self.job(), *field, value)
            )?;
            if found.len() > 1 {
                return Err(Failure::MultipleMatches(format!(
                    "several {} contacts have the {} {value}: merge them in {}, or match by another field",
                    provider.name,
                    field.noun(),
                    provider.name
                )));
            }
            if let Some(remote) = found.into_iter().next() {
                matched = Some(remote);
                break;
            }
        }
        let remote = match matched {
            Some(remote) => remote,
            None if !self.settings.create_contact_if_missing => {
                done.skipped += 1;
                done.notes.push(format!(
                    "no {} contact matches and the settings say not to create one",
                    provider.name
                ));
                return Ok(None);
            }
            None => {
                match vendor!(
                    connection,
                    create_contact(
                        self.vendors,
                        connection,
                        self.job(),
                        &fields,
                        self.settings.visitor_id_field.as_deref()
                    )
                )? {
                    Created::New(id) => {
                        links::put(
                            &self.vendors.db,
                            &connection.model.organization_id,
                            &integration_id,
                            "contact",
                            &visitor.id,
                            &id,
                            Some(&hash),
                        )
                        .await?;
                        done.created += 1;
                        done.notes
                            .push(format!("created {} contact {id}", provider.name));
                        return Ok(Some(id));
                    }
                    Created::Existing(id) => Remote {
                        id,
                        modified_at: None,
                    },
                }
            }
        };
        links::put(
            &self.vendors.db,
            &connection.model.organization_id,
            &integration_id,
            "contact",
            &visitor.id,
            &remote.id,
            None,
        )
        .await?;
        self.apply_updates(connection, done, &remote, &fields, &hash)
            .await?;
        Ok(Some(remote.id))
    }

    /// The (email|phone, value) pairs to look a contact up by, in the rule's order.
    fn match_keys(&self) -> Vec<(MatchField, String)> {
        let visitor = &self.subject.visitor;
        let email = visitor
            .email
            .clone()
            .filter(|e| !e.trim().is_empty())
            .map(|e| (MatchField::Email, e));
        let phone = visitor
            .phone
            .clone()
            .filter(|p| !p.trim().is_empty())
            .map(|p| (MatchField::Phone, p));
        match self.settings.contact_matching {
            ContactMatching::Email => email.into_iter().collect(),
            ContactMatching::Phone => phone.into_iter().collect(),
            ContactMatching::EmailThenPhone => email.into_iter().chain(phone).collect(),
        }
    }

    fn match_noun(&self) -> &'static str {
        match self.settings.contact_matching {
            ContactMatching::Email => "email",
            ContactMatching::Phone => "phone number",
            ContactMatching::EmailThenPhone => "email or phone number",
        }
    }

    /// Updates a matched contact as the policy says (the workflow trigger's property is ours: always set).
    async fn apply_updates(
        &self,
        connection: &mut Connection,
        done: &mut Done,
        remote: &Remote,
        fields: &Map<String, Value>,
        hash: &str,
    ) -> Result<(), Failure> {
        let provider = connection.provider;
        let visitor = &self.subject.visitor;
        let update = match self.settings.field_updates {
            FieldUpdates::Always => true,
            FieldUpdates::Never => false,
            FieldUpdates::IfNewer => remote.modified_at.is_none_or(|m| visitor.updated_at > m),
        };
        let sent = if update {
            fields.clone()
        } else if self.workflow_trigger(provider.key) {
            fields
                .iter()
                .filter(|(k, _)| *k == hubspot::INTERACTION_PROPERTY)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            Map::new()
        };
        if !update {
            done.skipped += 1;
            done.notes.push(match self.settings.field_updates {
                FieldUpdates::Never => format!(
                    "{} contact {} kept as it is (field updates: never)",
                    provider.name, remote.id
                ),
                _ => format!(
                    "{} contact {} changed after the visitor's details did: kept as it is",
                    provider.name, remote.id
                ),
            });
        }
        if sent.is_empty() {
            return Ok(());
        }
        let found = vendor!(
            connection,
            update_contact(self.vendors, connection, self.job(), &remote.id, &sent)
        )?;
        if !found {
            links::remove(
                &self.vendors.db,
                &connection.model.id,
                "contact",
                &visitor.id,
            )
            .await?;
            return Err(Failure::Vendor(format!(
                "{} contact {} disappeared while it was updated; it is looked up again at the next try",
                provider.name, remote.id
            )));
        }
        if update {
            links::put(
                &self.vendors.db,
                &connection.model.organization_id,
                &connection.model.id,
                "contact",
                &visitor.id,
                &remote.id,
                Some(hash),
            )
            .await?;
            done.updated += 1;
            done.notes
                .push(format!("updated {} contact {}", provider.name, remote.id));
        }
        Ok(())
    }

    /// Opens the conversation's case once, for its contact.
    async fn open_case(&self, connection: &mut Connection, done: &mut Done) -> Result<(), Failure> {
        let provider = connection.provider;
        let Some(conversation) = &self.subject.conversation else {
            done.skipped += 1;
            done.notes
                .push("the visitor has no conversation to open a case for".to_owned());
            return Ok(());
        };
        let noun = case_noun(provider.key);
        if let Some(link) = links::get(
            &self.vendors.db,
            &connection.model.id,
            "case",
            &conversation.id,
        )
        .await?
        {
            done.skipped += 1;
            done.notes.push(format!(
                "{} {noun} {} is already open for this conversation",
                provider.name, link.remote_id
            ));
            return Ok(());
        }
        let contact = self.contact(connection, done).await?;
        let fields = self.subject.fields(
            defaults(provider.key),
            &self.settings.field_mappings,
            CrmObject::Case,
        );
        let id = vendor!(
            connection,
            create_case(
                self.vendors,
                connection,
                self.job(),
                contact.as_deref(),
                &fields
            )
        )?;
        links::put(
            &self.vendors.db,
            &connection.model.organization_id,
            &connection.model.id,
            "case",
            &conversation.id,
            &id,
            Some(&mapping::hash(&fields)),
        )
        .await?;
        done.created += 1;
        done.notes.push(match contact {
            Some(contact) => format!("opened {} {noun} {id} for contact {contact}", provider.name),
            None => format!("opened {} {noun} {id} without a contact", provider.name),
        });
        Ok(())
    }

    /// Puts the resolved conversation's transcript on its case.
    async fn update_case(
        &self,
        connection: &mut Connection,
        done: &mut Done,
    ) -> Result<(), Failure> {
        let provider = connection.provider;
        let noun = case_noun(provider.key);
        let link = match &self.subject.conversation {
            Some(conversation) => {
                links::get(
                    &self.vendors.db,
                    &connection.model.id,
                    "case",
                    &conversation.id,
                )
                .await?
            }
            None => None,
        };
        let Some(link) = link else {
            done.skipped += 1;
            done.notes.push(format!(
                "no {} {noun} was opened for this conversation",
                provider.name
            ));
            return Ok(());
        };
        let fields = self.subject.fields(
            defaults(provider.key),
            &self.settings.field_mappings,
            CrmObject::Case,
        );
        let found = vendor!(
            connection,
            update_case(
                self.vendors,
                connection,
                self.job(),
                &link.remote_id,
                &fields
            )
        )?;
        if found {
            done.updated += 1;
            done.notes.push(format!(
                "put the transcript on {} {noun} {}",
                provider.name, link.remote_id
            ));
        } else {
            done.skipped += 1;
            done.notes.push(format!(
                "{} {noun} {} no longer exists",
                provider.name, link.remote_id
            ));
        }
        Ok(())
    }
}

/// What a provider calls a case.
fn case_noun(provider: &str) -> &'static str {
    if provider == "hubspot" {
        "ticket"
    } else {
        "case"
    }
}

/// When the visitor last talked with the assistant: the conversation's last change, as HubSpot reads dates.
fn interaction_time(subject: &Subject) -> String {
    let at = subject
        .conversation
        .as_ref()
        .map_or(subject.visitor.updated_at, |c| c.updated_at);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
