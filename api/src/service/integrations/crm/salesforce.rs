//! Salesforce's REST API calls: the org behind a connection's `instance_url` and its API allowance, contacts
//! (a SOQL query, sObject create and update) and cases.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::settings::{CrmObject, MappingSource};
use crate::service::integrations::crm::{
    AccountInfo, Created, MatchField, Remote, require_last_name,
};
use crate::service::integrations::executor::{Call, Failure, Vendors};

/// The REST API version every call names.
pub const API_VERSION: &str = "v60.0";

/// `GET /services/data/vXX.X/limits`: the org answers, with its daily API requests left.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!("{{api_base}}/services/data/{API_VERSION}/limits")),
        )
        .await?
        .success(connection.provider)?;
    let instance = connection
        .model
        .account
        .get("instance_url")
        .and_then(Value::as_str)
        .unwrap_or("its instance")
        .to_owned();
    let daily = answer.body.get("DailyApiRequests");
    let max = daily.and_then(|d| d.get("Max")).and_then(Value::as_i64);
    let remaining = daily
        .and_then(|d| d.get("Remaining"))
        .and_then(Value::as_i64);
    let description = match (remaining, max) {
        (Some(remaining), Some(max)) => format!(
            "Connected to Salesforce at {instance}: {remaining} of {max} daily API requests left"
        ),
        _ => format!("Connected to Salesforce at {instance}"),
    };
    Ok(AccountInfo {
        description,
        account: Map::new(),
    })
}

/// The brief's default mapping on Salesforce's Contact and Case fields.
pub const DEFAULTS: &[(MappingSource, CrmObject, &str)] = &[
    (
        MappingSource::VisitorFirstName,
        CrmObject::Contact,
        "FirstName",
    ),
    (
        MappingSource::VisitorLastName,
        CrmObject::Contact,
        "LastName",
    ),
    (MappingSource::VisitorEmail, CrmObject::Contact, "Email"),
    (MappingSource::VisitorPhone, CrmObject::Contact, "Phone"),
    (MappingSource::FirstQuestion, CrmObject::Case, "Subject"),
    (MappingSource::Transcript, CrmObject::Case, "Description"),
    (MappingSource::VisitorName, CrmObject::Case, "SuppliedName"),
    (
        MappingSource::VisitorEmail,
        CrmObject::Case,
        "SuppliedEmail",
    ),
    (
        MappingSource::VisitorPhone,
        CrmObject::Case,
        "SuppliedPhone",
    ),
];

/// A string literal of SOQL: quotes and backslashes escaped.
fn soql_literal(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// `value` as one segment of a URL path: unreserved characters kept, every other byte percent-encoded.
fn path_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn sobject(name: &str) -> String {
    format!("{{api_base}}/services/data/{API_VERSION}/sobjects/{name}")
}

fn remote(record: &Value) -> Option<Remote> {
    let id = record
        .get("Id")
        .or_else(|| record.get("id"))
        .and_then(Value::as_str)?
        .to_owned();
    let modified_at = record
        .get("LastModifiedDate")
        .and_then(Value::as_str)
        .and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .ok()
        })
        .map(|t| t.with_timezone(&Utc));
    Some(Remote { id, modified_at })
}

/// `GET /query?q=SELECT Id, LastModifiedDate FROM Contact WHERE Email = '…' LIMIT 2`.
pub async fn find_contacts(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    field: MatchField,
    value: &str,
) -> Result<Vec<Remote>, Failure> {
    let column = match field {
        MatchField::Email => "Email",
        MatchField::Phone => "Phone",
    };
    let soql = format!(
        "SELECT Id, LastModifiedDate FROM Contact WHERE {column} = {} LIMIT 2",
        soql_literal(value)
    );
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::get(format!("{{api_base}}/services/data/{API_VERSION}/query")).query("q", soql),
        )
        .await?
        .success(connection.provider)?;
    Ok(answer
        .body
        .get("records")
        .and_then(Value::as_array)
        .map(|records| records.iter().filter_map(remote).collect())
        .unwrap_or_default())
}

/// `GET /sobjects/Contact/{id}`: the contact, or `None` when the org has it no more.
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
            &Call::get(format!("{}/{id}", sobject("Contact")))
                .query("fields", "Id,LastModifiedDate"),
        )
        .await?;
    if answer.status == 404 {
        return Ok(None);
    }
    Ok(remote(&answer.success(connection.provider)?.body))
}

/// The id of a created sObject (`{"id", "success", "errors"}`).
fn created_id(answer: &Value, what: &str) -> Result<String, Failure> {
    answer
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Failure::Vendor(format!("Salesforce created a {what} without an id")))
}

/// `POST /sobjects/Contact`, or with a visitor id field (`key`, an External ID field holding the visitor's id)
/// `PATCH /sobjects/Contact/{key}/{visitor id}`: an upsert that Salesforce itself keeps to one contact per visitor,
/// answering `300 Multiple Choices` when several contacts already carry the id. `LastName` is required: the
/// email's name, or "Website visitor", stands in for a visitor who gave none.
pub async fn create_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    fields: &Map<String, Value>,
    key: Option<&str>,
) -> Result<Created, Failure> {
    let mut fields = fields.clone();
    require_last_name(&mut fields, "LastName", "Email");
    let Some((key, value)) = key.and_then(|k| Some((k, fields.remove(k)?))) else {
        let answer = vendors
            .call(
                connection,
                job_id,
                &Call::post(sobject("Contact"), Value::Object(fields)),
            )
            .await?
            .success(connection.provider)?;
        return Ok(Created::New(created_id(&answer.body, "contact")?));
    };
    let value = value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string());
    let path = format!("{}/{key}/{}", sobject("Contact"), path_segment(&value));
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::new(reqwest::Method::PATCH, path).json(Value::Object(fields)),
        )
        .await?;
    match answer.status {
        300 => {
            let ids: Vec<&str> = answer
                .body
                .as_array()
                .map(|urls| {
                    urls.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|url| url.rsplit('/').next())
                        .collect()
                })
                .unwrap_or_default();
            Err(Failure::MultipleMatches(format!(
                "several Salesforce contacts ({}) have the visitor id {value} in {key}: merge them in Salesforce",
                ids.join(", ")
            )))
        }
        404 => Err(Failure::Configuration(format!(
            "Salesforce has no External ID field {key} on Contact that this connection may write: create it \
             (Setup → Object Manager → Contact → Fields), or clear the visitor id field in the settings"
        ))),
        _ => {
            let answer = answer.success(connection.provider)?;
            let id = created_id(&answer.body, "contact")?;
            Ok(
                if answer.status == 201 || answer.body.get("created") == Some(&Value::Bool(true)) {
                    Created::New(id)
                } else {
                    Created::Existing(id)
                },
            )
        }
    }
}

async fn patch(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    object: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let answer = vendors
        .call(
            connection,
            job_id,
            &Call::new(reqwest::Method::PATCH, format!("{}/{id}", sobject(object)))
                .json(Value::Object(fields.clone())),
        )
        .await?;
    if answer.status == 404 {
        return Ok(false);
    }
    answer.success(connection.provider)?;
    Ok(true)
}

/// `PATCH /sobjects/Contact/{id}`; false when the org has the contact no more.
pub async fn update_contact(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    patch(vendors, connection, job_id, "Contact", id, fields).await
}

/// `POST /sobjects/Case` with `Origin: Web`, for the contact.
pub async fn create_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    contact_id: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<String, Failure> {
    let mut body = json!({"Origin": "Web"});
    if let Some(contact) = contact_id {
        body["ContactId"] = json!(contact);
    }
    if let Some(object) = body.as_object_mut() {
        object.extend(fields.clone());
    }
    let answer = vendors
        .call(connection, job_id, &Call::post(sobject("Case"), body))
        .await?
        .success(connection.provider)?;
    created_id(&answer.body, "case")
}

/// `PATCH /sobjects/Case/{id}` (the `Supplied*` fields are set once, at creation); false when the case is gone.
pub async fn update_case(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<bool, Failure> {
    let fields: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| !k.starts_with("Supplied") && *k != "Subject")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    patch(vendors, connection, job_id, "Case", id, &fields).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_keep_ids_and_encode_the_rest() {
        assert_eq!(path_segment("vis_01ABC-x.y~z"), "vis_01ABC-x.y~z");
        assert_eq!(path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }

    #[test]
    fn soql_literals_cannot_break_out_of_their_quotes() {
        assert_eq!(soql_literal("ann@example.test"), "'ann@example.test'");
        assert_eq!(soql_literal("o'brien@x.test"), "'o\\'brien@x.test'");
        assert_eq!(
            soql_literal("a\\' OR Id != ''"),
            "'a\\\\\\' OR Id != \\'\\''"
        );
    }
}
