//! Zoho CRM's v2 API calls: the organization behind a connection's `api_domain`, contacts (search, upsert with
//! `duplicate_check_fields`, update) and cases.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::settings::{CrmObject, MappingSource};
use crate::service::integrations::crm::{
    AccountInfo, Created, MatchField, Remote, require_last_name,
};
use crate::service::integrations::executor::{Call, Failure, Vendors};

/// `GET /crm/v2/org`: the organization's name and id.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(connection, job_id, &Call::get("{api_base}/crm/v2/org"))
        .await?
        .success(connection.provider)?;
    let org = answer
        .body
        .get("org")
        .and_then(Value::as_array)
        .and_then(|orgs| orgs.first())
        .ok_or_else(|| Failure::Vendor("Zoho CRM's answer names no organization".to_owned()))?;
    let mut account = Map::new();
    let name = org
        .get("company_name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    account.insert("organization".to_owned(), Value::String(name.to_owned()));
    if let Some(id) = org.get("id").and_then(|v| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    }) {
        account.insert("organization_id".to_owned(), Value::String(id));
    }
    Ok(AccountInfo {
        description: format!("Connected to Zoho CRM organization {name}"),
        account,
    })
}

/// The brief's default mapping on Zoho CRM's Contacts and Cases fields.
pub const DEFAULTS: &[(MappingSource, CrmObject, &str)] = &[
    (
        MappingSource::VisitorFirstName,
        CrmObject::Contact,
        "First_Name",
    ),
    (
        MappingSource::VisitorLastName,
        CrmObject::Contact,
        "Last_Name",
    ),
    (MappingSource::VisitorEmail, CrmObject::Contact, "Email"),
    (MappingSource::VisitorPhone, CrmObject::Contact, "Phone"),
    (MappingSource::FirstQuestion, CrmObject::Case, "Subject"),
    (MappingSource::Transcript, CrmObject::Case, "Description"),
    (MappingSource::VisitorEmail, CrmObject::Case, "Email"),
    (MappingSource::VisitorPhone, CrmObject::Case, "Phone"),
];

fn remote(record: &Value) -> Option<Remote> {
    let id = record.get("id").and_then(|v| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    })?;
    let modified_at = record
        .get("Modified_Time")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(Remote { id, modified_at })
}

/// The outcome of one record in Zoho's `{"data": [{code, details, message, status}]}`.
fn first_result(body: &Value) -> Result<&Value, Failure> {
    let result = body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .ok_or_else(|| Failure::Vendor("Zoho CRM answered without a result".to_owned()))?;
    if result.get("status").and_then(Value::as_str) == Some("error") {
        let code = result
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let message = result
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or(code);
        let field = result
            .pointer("/details/api_name")
            .and_then(Value::as_str)
            .map(|f| format!(" (field {f})"))
            .unwrap_or_default();
        return Err(if code == "DUPLICATE_DATA" {
            Failure::MultipleMatches(format!("Zoho CRM: {message}{field}"))
        } else {
            Failure::Validation(format!(
                "Zoho CRM refused the record: {message} ({code}){field}"
            ))
        });
    }
    Ok(result)
}

/// `GET /crm/v2/Contacts/search?email=…` (or `phone=`); 204 means none.
pub async fn find_contacts(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    field: MatchField,
    value: &str,
) -> Result<Vec<Remote>, Failure> {
    let name = match field {
        MatchField::Email => "email",
        MatchField::Phone => "phone",
    };
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/crm/v2/Contacts/search").query(name, value),
        )
        .await?;
    if answer.status == 204 {
        return Ok(Vec::new());
    }
    let answer = answer.success(connection.provider)?;
    Ok(answer
        .body
        .get("data")
        .and_then(Value::as_array)
        .map(|records| records.iter().filter_map(remote).collect())
        .unwrap_or_default())
}

/// `GET /crm/v2/Contacts/{id}`: the contact, or `None` when Zoho has it no more (204 or `INVALID_DATA`).
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
            &Call::get(format!("{{api_base}}/crm/v2/Contacts/{id}")),
        )
        .await?;
    if answer.status == 204 || answer.status == 404 || answer.text.contains("INVALID_DATA") {
        return Ok(None);
    }
    let answer = answer.success(connection.provider)?;
    Ok(answer
        .body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(remote))
}

/// `POST /crm/v2/Contacts/upsert` with `duplicate_check_fields`: a contact with the same visitor id (in the
/// unique field `key`, when set), else email (or phone), made meanwhile is updated instead of duplicated. `Last_Name` is required: the email's name, or "Website visitor",
/// stands in.
pub async fn create_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    fields: &Map<String, Value>,
    key: Option<&str>,
) -> Result<Created, Failure> {
    let mut fields = fields.clone();
    require_last_name(&mut fields, "Last_Name", "Email");
    let check = match key {
        Some(key) if fields.contains_key(key) => key,
        _ if fields.contains_key("Email") => "Email",
        _ => "Phone",
    };
    let body = json!({
        "data": [fields],
        "duplicate_check_fields": [check],
        "trigger": ["workflow"],
    });
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post("{api_base}/crm/v2/Contacts/upsert", body),
        )
        .await?
        .success(connection.provider)?;
    let result = first_result(&answer.body)?;
    let id = result
        .pointer("/details/id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .ok_or_else(|| Failure::Vendor("Zoho CRM answered without the record's id".to_owned()))?;
    Ok(match result.get("action").and_then(Value::as_str) {
        Some("update") => Created::Existing(id),
        _ => Created::New(id),
    })
}

async fn put(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    module: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::new(
                reqwest::Method::PUT,
                format!("{{api_base}}/crm/v2/{module}/{id}"),
            )
            .json(json!({"data": [fields], "trigger": ["workflow"]})),
        )
        .await?;
    if answer.status == 404
        || answer.text.contains("INVALID_DATA") && answer.text.contains("\"id\"")
    {
        return Ok(false);
    }
    let answer = answer.success(connection.provider)?;
    first_result(&answer.body)?;
    Ok(true)
}

/// `PUT /crm/v2/Contacts/{id}`; false when Zoho has the contact no more.
pub async fn update_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    put(vendors, connection, job_id, "Contacts", id, fields).await
}

/// `POST /crm/v2/Cases` with `Case_Origin: Web`, related to the contact.
pub async fn create_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    contact_id: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<String, Failure> {
    let mut record = json!({"Case_Origin": "Web", "Status": "New"});
    if let Some(contact) = contact_id {
        record["Related_To"] = json!({"id": contact});
    }
    if let Some(object) = record.as_object_mut() {
        object.extend(fields.clone());
        object
            .entry("Subject")
            .or_insert_with(|| Value::String("Conversation with the AI assistant".to_owned()));
    }
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::post(
                "{api_base}/crm/v2/Cases",
                json!({"data": [record], "trigger": ["workflow"]}),
            ),
        )
        .await?
        .success(connection.provider)?;
    first_result(&answer.body)?
        .pointer("/details/id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .ok_or_else(|| Failure::Vendor("Zoho CRM answered without the case's id".to_owned()))
}

/// `PUT /crm/v2/Cases/{id}`; false when the case is gone.
pub async fn update_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let mut fields = fields.clone();
    fields.remove("Subject");
    put(vendors, connection, job_id, "Cases", id, &fields).await
}
