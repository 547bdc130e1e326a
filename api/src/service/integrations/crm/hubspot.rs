//! HubSpot's CRM v3 calls: the account (portal), contacts (search, upsert by email, update), tickets associated with
//! their contact, and the contact property that workflows trigger on.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::settings::{CrmObject, MappingSource};
use crate::service::integrations::crm::{AccountInfo, Created, MatchField, Remote};
use crate::service::integrations::executor::{Call, Failure, Vendors};

/// `GET /account-info/v3/details`: the portal id, which HubSpot's links and webhooks name.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/account-info/v3/details"),
        )
        .await?
        .success(connection.provider)?;
    let portal = answer
        .body
        .get("portalId")
        .and_then(|v| {
            v.as_i64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
        })
        .ok_or_else(|| Failure::Vendor("HubSpot's account details have no portalId".to_owned()))?;
    let mut account = Map::new();
    account.insert("portal_id".to_owned(), Value::String(portal.clone()));
    let mut description = format!("Connected to HubSpot account {portal}");
    if let Some(domain) = answer.body.get("uiDomain").and_then(Value::as_str) {
        account.insert("ui_domain".to_owned(), Value::String(domain.to_owned()));
        description.push_str(&format!(" on {domain}"));
    }
    if let Some(zone) = answer.body.get("timeZone").and_then(Value::as_str) {
        description.push_str(&format!(", time zone {zone}"));
    }
    Ok(AccountInfo {
        description,
        account,
    })
}

/// The brief's default mapping on HubSpot's contact and ticket properties.
pub const DEFAULTS: &[(MappingSource, CrmObject, &str)] = &[
    (
        MappingSource::VisitorFirstName,
        CrmObject::Contact,
        "firstname",
    ),
    (
        MappingSource::VisitorLastName,
        CrmObject::Contact,
        "lastname",
    ),
    (MappingSource::VisitorEmail, CrmObject::Contact, "email"),
    (MappingSource::VisitorPhone, CrmObject::Contact, "phone"),
    (MappingSource::FirstQuestion, CrmObject::Case, "subject"),
    (MappingSource::Transcript, CrmObject::Case, "content"),
];

/// The contact property HubSpot workflows trigger on.
pub const INTERACTION_PROPERTY: &str = "ai_assistant_interaction";

/// The default ticket pipeline and its first stage ("New").
const PIPELINE: &str = "0";
const NEW_STAGE: &str = "1";
/// HubSpot's association type of a ticket to a contact.
const TICKET_TO_CONTACT: i64 = 16;

fn remote(record: &Value) -> Option<Remote> {
    let id = record.get("id").and_then(Value::as_str)?.to_owned();
    let modified_at = record
        .get("updatedAt")
        .or_else(|| record.pointer("/properties/lastmodifieddate"))
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(Remote { id, modified_at })
}

fn properties(fields: &Map<String, Value>) -> Value {
    json!({ "properties": fields })
}

/// `POST /crm/v3/objects/contacts/search`: the contacts whose email (or phone) equals `value` (at most two: one
/// more than a match needs).
pub async fn find_contacts(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    field: MatchField,
    value: &str,
) -> Result<Vec<Remote>, Failure> {
    let property = match field {
        MatchField::Email => "email",
        MatchField::Phone => "phone",
    };
    let body = json!({
        "filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": value}]}],
        "properties": ["email", "phone", "lastmodifieddate"],
        "limit": 2,
    });
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/crm/v3/objects/contacts/search", body),
        )
        .await?
        .success(connection.provider)?;
    Ok(answer
        .body
        .get("results")
        .and_then(Value::as_array)
        .map(|results| results.iter().filter_map(remote).collect())
        .unwrap_or_default())
}

/// `GET /crm/v3/objects/contacts/{id}`: the contact, or `None` when HubSpot has it no more.
pub async fn get_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
) -> Result<Option<Remote>, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!("{{api_base}}/crm/v3/objects/contacts/{id}"))
                .query("properties", "lastmodifieddate"),
        )
        .await?;
    if answer.status == 404 {
        return Ok(None);
    }
    Ok(remote(&answer.success(connection.provider)?.body))
}

/// Creates the visitor's contact. With a visitor id property (`key`, a unique-value property) or an email,
/// `POST /crm/v3/objects/contacts/batch/upsert` keyed by it: a contact made meanwhile with that value (by a
/// retry, another job, a person) is updated, never duplicated, and `new` says which. Without one, `POST /crm/v3/objects/contacts`, where a 409 "Contact already exists.
/// Existing ID: …" answers that contact.
pub async fn create_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    fields: &Map<String, Value>,
    key: Option<&str>,
) -> Result<Created, Failure> {
    let unique = key
        .and_then(|k| Some((k, fields.get(k)?.as_str()?)))
        .or_else(|| Some(("email", fields.get("email")?.as_str()?)));
    if let Some((property, id)) = unique {
        let body = json!({"inputs": [{"idProperty": property, "id": id, "properties": fields}]});
        let answer = vendors
            .call(
                connection,
                job_id,
                &Call::post("{api_base}/crm/v3/objects/contacts/batch/upsert", body),
            )
            .await?
            .success(connection.provider)?;
        let result = answer
            .body
            .get("results")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .ok_or_else(|| Failure::Vendor("HubSpot's upsert answered no result".to_owned()))?;
        let id = result
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::Vendor("HubSpot upserted a contact without an id".to_owned()))?
            .to_owned();
        return Ok(
            if result.get("new").and_then(Value::as_bool) == Some(false) {
                Created::Existing(id)
            } else {
                Created::New(id)
            },
        );
    }
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/crm/v3/objects/contacts", properties(fields)),
        )
        .await?;
    if answer.status == 409
        && let Some(existing) = answer
            .body
            .get("message")
            .and_then(Value::as_str)
            .and_then(|m| m.rsplit_once("Existing ID: "))
            .map(|(_, id)| id.trim().to_owned())
    {
        return Ok(Created::Existing(existing));
    }
    let answer = answer.success(connection.provider)?;
    let id = answer
        .body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::Vendor("HubSpot created a contact without an id".to_owned()))?;
    Ok(Created::New(id.to_owned()))
}

/// `PATCH /crm/v3/objects/contacts/{id}`; false when HubSpot has the contact no more.
pub async fn update_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    patch(
        vendors,
        connection,
        job_id,
        &format!("contacts/{id}"),
        fields,
    )
    .await
}

async fn patch(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::new(
                reqwest::Method::PATCH,
                format!("{{api_base}}/crm/v3/objects/{object}"),
            )
            .json(properties(fields)),
        )
        .await?;
    if answer.status == 404 {
        return Ok(false);
    }
    answer.success(connection.provider)?;
    Ok(true)
}

/// `POST /crm/v3/objects/tickets` in the default pipeline's first stage, associated with the contact.
pub async fn create_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    contact_id: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<String, Failure> {
    let mut fields = fields.clone();
    fields
        .entry("hs_pipeline")
        .or_insert_with(|| Value::String(PIPELINE.to_owned()));
    fields
        .entry("hs_pipeline_stage")
        .or_insert_with(|| Value::String(NEW_STAGE.to_owned()));
    fields
        .entry("subject")
        .or_insert_with(|| Value::String("Conversation with the AI assistant".to_owned()));
    let mut body = properties(&fields);
    if let Some(contact) = contact_id {
        body["associations"] = json!([{
            "to": {"id": contact},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TICKET_TO_CONTACT}],
        }]);
    }
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/crm/v3/objects/tickets", body),
        )
        .await?
        .success(connection.provider)?;
    answer
        .body
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Failure::Vendor("HubSpot created a ticket without an id".to_owned()))
}

/// `PATCH /crm/v3/objects/tickets/{id}`; false when HubSpot has the ticket no more.
pub async fn update_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let mut fields = fields.clone();
    fields.remove("subject");
    patch(
        vendors,
        connection,
        job_id,
        &format!("tickets/{id}"),
        &fields,
    )
    .await
}

/// Creates the contact property "AI Assistant Interaction" (a date and time) when the portal lacks it.
pub async fn ensure_interaction_property(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<(), Failure> {
    let url = format!("{{api_base}}/crm/v3/properties/contacts/{INTERACTION_PROPERTY}");
    let answer = vendors.call(connection, job_id, &Call::get(url)).await?;
    if answer.status != 404 {
        answer.success(connection.provider)?;
        return Ok(());
    }
    let body = json!({
        "name": INTERACTION_PROPERTY,
        "label": "AI Assistant Interaction",
        "description": "When the visitor last talked with the AI assistant (set by Concierge; workflows can trigger on it).",
        "groupName": "contactinformation",
        "type": "datetime",
        "fieldType": "date",
    });
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/crm/v3/properties/contacts", body),
        )
        .await?;
    // 409: made meanwhile by another job.
    if answer.status != 409 {
        answer.success(connection.provider)?;
    }
    Ok(())
}
