//! Mailchimp's Marketing API 3.0 with OAuth: the account's data centre from its metadata endpoint, its
//! audiences, and the visitors who gave marketing consent added to the chosen audience (upserted by the MD5 of
//! the lower-cased email, tagged from the conversation); a visitor who withdraws consent is unsubscribed.

use entities::integration_job;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::crm::mapping::Subject;
use crate::service::integrations::crm::settings::MappingSource;
use crate::service::integrations::crm::sync::Done;
use crate::service::integrations::email::audience::{AudienceSettings, AudienceTag, OptIn};
use crate::service::integrations::executor::{Answer, Call, Failure, Vendors};
use crate::service::integrations::links;

/// Where Mailchimp says which data centre an access token belongs to.
const METADATA_URL: &str = "https://login.mailchimp.com/oauth2/metadata";
/// The link of a visitor to their audience member (the member's hash; `unsubscribed` after a withdrawal).
const MEMBER: &str = "mailchimp_member";
/// The most audiences listed.
const AUDIENCES_MAX: u32 = 100;

/// The member id Mailchimp gives an address: the MD5 of the lower-cased address, in hex.
pub fn subscriber_hash(email: &str) -> String {
    let digest = Md5::digest(email.trim().to_lowercase().as_bytes());
    hex::encode(digest)
}

/// Reads the metadata endpoint (the data centre and API endpoint), then the account's audiences.
pub async fn describe(
    vendors: &Vendors,
    connection: &mut Connection,
    job_id: Option<&str>,
) -> Result<AccountInfo, Failure> {
    let token = connection.credentials.access_token.clone().ok_or_else(|| {
        Failure::Authorization("the Mailchimp connection has no token: connect it again".to_owned())
    })?;
    let metadata = vendors
        .call(
            connection,
            job_id,
            &Call::get(METADATA_URL).header("authorization", format!("OAuth {token}")),
        )
        .await?
        .success(connection.provider)?;
    let text = |name: &str| {
        metadata
            .body
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let endpoint = vendors
        .endpoints
        .vendor_origin(connection.provider, &text("api_endpoint"))
        .map_err(Failure::Configuration)?;
    let (dc, name) = (text("dc"), text("accountname"));
    let login = metadata
        .body
        .pointer("/login/email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut account = Map::new();
    account.insert("api_endpoint".to_owned(), Value::String(endpoint));
    account.insert("dc".to_owned(), Value::String(dc.clone()));
    account.insert("account_name".to_owned(), Value::String(name.clone()));
    account.insert("login_email".to_owned(), Value::String(login));
    connection.model.account =
        crate::service::integrations::merged_account(&connection.model.account, account.clone());
    let lists = vendors
        .call(
            connection,
            job_id,
            &Call::get("{api_base}/lists")
                .query("count", AUDIENCES_MAX.to_string())
                .query(
                    "fields",
                    "lists.id,lists.name,lists.stats.member_count,lists.double_optin,total_items",
                ),
        )
        .await?
        .success(connection.provider)?;
    let audiences: Vec<Value> = lists
        .body
        .get("lists")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| {
            json!({
                "id": l.get("id").and_then(Value::as_str).unwrap_or_default(),
                "name": l.get("name").and_then(Value::as_str).unwrap_or_default(),
                "member_count": l.pointer("/stats/member_count").and_then(Value::as_i64).unwrap_or(0),
            })
        })
        .collect();
    let count = audiences.len();
    account.insert("audiences".to_owned(), Value::Array(audiences));
    Ok(AccountInfo {
        description: format!(
            "Connected to Mailchimp account {name} (data centre {dc}); {count} audience{}",
            if count == 1 { "" } else { "s" }
        ),
        account,
    })
}

/// The audiences read when the connection was made or last tested: id, name and member count.
pub fn audiences(account: &Value) -> Vec<(String, String, i64)> {
    account
        .get("audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                a.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                a.get("member_count").and_then(Value::as_i64).unwrap_or(0),
            )
        })
        .collect()
}

/// The problem+json title of an answer (`Member Exists`, `Forgotten Email Not Subscribed`).
fn title(answer: &Answer) -> &str {
    answer
        .body
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// One of our values for a merge field: a one-word name is a first name to a mailing list.
fn merge_value(subject: &Subject, source: MappingSource) -> Option<String> {
    let name = subject
        .visitor
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let single = name.filter(|n| !n.contains(' '));
    match (source, single) {
        (MappingSource::VisitorFirstName, Some(name)) => Some(name.to_owned()),
        (MappingSource::VisitorLastName, Some(_)) => None,
        _ => subject.value(source),
    }
}

/// The tags of the member: the settings' own, then what of the conversation the settings take.
fn tags_of(settings: &AudienceSettings, subject: &Subject) -> Vec<String> {
    let mut tags: Vec<String> = settings.tags.clone();
    let mut add = |tag: String| {
        let tag: String = tag.chars().take(100).collect();
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            tags.push(tag);
        }
    };
    for source in &settings.tag_sources {
        match source {
            AudienceTag::Intent => {
                for intent in &subject.intents {
                    add(format!("intent:{intent}"));
                }
            }
            AudienceTag::Page => {
                if let Some(path) = subject
                    .conversation
                    .as_ref()
                    .and_then(|c| c.source_url.as_deref())
                    .and_then(|u| url::Url::parse(u).ok())
                    .map(|u| u.path().to_owned())
                {
                    add(format!("page:{path}"));
                }
            }
            AudienceTag::Assistant => {
                if let Some(name) = &subject.assistant_name {
                    add(format!("assistant:{name}"));
                }
            }
        }
    }
    tags
}

/// An `audience_sync` job: the visitor added to (or updated in) the audience when they consented, with their
/// merge fields and tags; unsubscribed when they withdrew a consent that had added them; nothing otherwise.
pub async fn sync(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let mut done = Done::default();
    let settings = AudienceSettings::stored(&connection.model.settings);
    let Some(audience) = settings.audience_id.clone() else {
        done.skipped += 1;
        done.notes
            .push("no audience chosen: choose one in the Mailchimp settings".to_owned());
        return Ok(done);
    };
    let visitor_id = job.visitor_id.clone().unwrap_or_default();
    let Some(subject) = Subject::load(
        &vendors.db,
        &visitor_id,
        job.conversation_id.as_deref(),
        &vendors.public_url,
    )
    .await?
    else {
        done.skipped += 1;
        done.notes.push("the visitor no longer exists".to_owned());
        return Ok(done);
    };
    let Some(email) = subject.visitor.email.clone() else {
        done.skipped += 1;
        done.notes
            .push("the visitor gave no email address: not added".to_owned());
        return Ok(done);
    };
    let hash = subscriber_hash(&email);
    let member = format!("{{api_base}}/lists/{audience}/members/{hash}");
    let link = links::get(&vendors.db, &connection.model.id, MEMBER, &visitor_id).await?;
    let organization_id = connection.model.organization_id.clone();
    if !subject.visitor.marketing_consent {
        let Some(link) = link.filter(|l| l.payload_hash.as_deref() != Some("unsubscribed")) else {
            done.skipped += 1;
            done.notes
                .push("the visitor gave no marketing consent: not added".to_owned());
            return Ok(done);
        };
        let url = format!("{{api_base}}/lists/{audience}/members/{}", link.remote_id);
        let answer = vendors
            .call(
                connection,
                Some(&job.id),
                &Call::new(reqwest::Method::PATCH, url).json(json!({"status": "unsubscribed"})),
            )
            .await?;
        if answer.status != 404 {
            answer.success(connection.provider)?;
        }
        links::put(
            &vendors.db,
            &organization_id,
            &connection.model.id,
            MEMBER,
            &visitor_id,
            &link.remote_id,
            Some("unsubscribed"),
        )
        .await?;
        done.updated += 1;
        done.notes.push(format!(
            "{email} withdrew marketing consent: unsubscribed from the audience"
        ));
        return Ok(done);
    }
    let mut merge_fields = Map::new();
    for field in &settings.merge_fields {
        if let Some(value) = merge_value(&subject, field.source).or_else(|| field.default.clone()) {
            merge_fields.insert(field.tag.clone(), Value::String(value));
        }
    }
    let status_if_new = match settings.opt_in {
        OptIn::Double => "pending",
        OptIn::Single => "subscribed",
    };
    let answer = vendors
        .call(
            connection,
            Some(&job.id),
            &Call::new(reqwest::Method::PUT, member.clone()).json(json!({
                "email_address": email,
                "status_if_new": status_if_new,
                "merge_fields": merge_fields,
            })),
        )
        .await?;
    let answer = match (answer.status, title(&answer)) {
        (200..=299, _) => answer,
        (400, "Forgotten Email Not Subscribed" | "Member In Compliance State") => {
            done.skipped += 1;
            done.notes.push(format!(
                "Mailchimp will not add {email} again ({}): the person must subscribe through a Mailchimp form",
                title(&answer)
            ));
            return Ok(done);
        }
        (404, _) => {
            return Err(Failure::Configuration(format!(
                "the audience {audience} no longer exists in Mailchimp: choose another"
            )));
        }
        _ => answer.success(connection.provider)?,
    };
    let status = answer
        .body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    links::put(
        &vendors.db,
        &organization_id,
        &connection.model.id,
        MEMBER,
        &visitor_id,
        &hash,
        Some(&status),
    )
    .await?;
    if link.is_some() {
        done.updated += 1;
    } else {
        done.created += 1;
    }
    done.notes.push(match status.as_str() {
        "pending" => format!("{email} is pending: Mailchimp sent the opt-in confirmation"),
        "unsubscribed" | "cleaned" => format!(
            "{email} is {status} in the audience and stays so (Mailchimp keeps a past unsubscription)"
        ),
        other => format!("{email} is {other} in the audience"),
    });
    let tags = tags_of(&settings, &subject);
    if !tags.is_empty() {
        let body: Vec<Value> = tags
            .iter()
            .map(|name| json!({"name": name, "status": "active"}))
            .collect();
        vendors
            .call(
                connection,
                Some(&job.id),
                &Call::post(format!("{member}/tags"), json!({"tags": body})),
            )
            .await?
            .success(connection.provider)?;
        done.notes.push(format!("tagged {}", tags.join(", ")));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_member_id_is_the_md5_of_the_lower_cased_address() {
        // Mailchimp's documented example: the hash of "urist.mcvankab@freddiesjokes.com".
        assert_eq!(
            subscriber_hash(" Urist.McVankab@FreddiesJokes.com "),
            "62eeb292278cc15f5817cb78f7790b08"
        );
    }
}
