//! The way back from a help desk: the public replies agents write on a conversation's ticket reach the visitor
//! as agent messages (each once: a link per comment, written in the message's own transaction), and a solved
//! ticket resolves the conversation.

use entities::{conversation, integration_job, integration_link};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::service::conversations::messages::{self, Author, NewMessage};
use crate::service::conversations::{self, Status};
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::sync::Done;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::helpdesk;
use crate::service::integrations::links;
use crate::service::now;

/// A `ticket_sync` job: what changed on the conversation's ticket, brought here.
pub async fn run(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let mut done = Done::default();
    let name = connection.provider.name;
    let Some(conversation_id) = job.conversation_id.clone() else {
        return Err(Failure::Configuration(
            "a ticket sync names no conversation".to_owned(),
        ));
    };
    let integration_id = connection.model.id.clone();
    let organization_id = connection.model.organization_id.clone();
    let Some(link) = links::get(&vendors.db, &integration_id, "ticket", &conversation_id).await?
    else {
        done.skipped += 1;
        done.notes
            .push(format!("the conversation has no {name} ticket"));
        return Ok(done);
    };
    let ticket_id = link.remote_id;
    let state = helpdesk::ticket_state(vendors, connection, Some(&job.id), &ticket_id).await?;
    let mut delivered = 0;
    for comment in &state.replies {
        let key = format!("{ticket_id}:{}", comment.id);
        if links::get(&vendors.db, &integration_id, "reply", &key)
            .await?
            .is_some()
        {
            continue;
        }
        let txn = vendors
            .db
            .begin_write()
            .await
            .map_err(crate::error::ApiError::from)?;
        let Some(conversation) = conversation::Entity::find_by_id(conversation_id.clone())
            .filter(conversation::Column::OrganizationId.eq(&organization_id))
            .one(&*txn)
            .await
            .map_err(crate::error::ApiError::from)?
        else {
            done.skipped += 1;
            done.notes
                .push("the conversation no longer exists here".to_owned());
            return Ok(done);
        };
        if conversations::status(&conversation)? == Status::Closed {
            done.skipped += 1;
            done.notes.push(format!(
                "a reply on {name} ticket {ticket_id} came after the conversation was closed: not shown"
            ));
            break;
        }
        let (message, _) = messages::insert(
            &txn,
            &conversation,
            NewMessage::new(Author::Agent, comment.body.clone()),
        )
        .await?;
        let at = now();
        integration_link::Entity::insert(integration_link::ActiveModel {
            integration_id: Set(integration_id.clone()),
            object: Set("reply".to_owned()),
            local_id: Set(key),
            organization_id: Set(organization_id.clone()),
            remote_id: Set(message.id.clone()),
            payload_hash: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec(&*txn)
        .await
        .map_err(crate::error::ApiError::from)?;
        txn.commit().await.map_err(crate::error::ApiError::from)?;
        delivered += 1;
    }
    if delivered > 0 {
        done.created += delivered;
        done.notes.push(format!(
            "{delivered} repl{} from {name} ticket {ticket_id} reached the visitor",
            if delivered == 1 { "y" } else { "ies" }
        ));
    }
    let status = &state.status;
    if state.solved
        && conversations::resolve_from(&vendors.db, &organization_id, &conversation_id, name)
            .await?
    {
        done.updated += 1;
        done.notes.push(format!(
            "{name} ticket {ticket_id} is {status}: the conversation is resolved"
        ));
    }
    if done.notes.is_empty() {
        done.skipped += 1;
        done.notes
            .push(format!("nothing new on {name} ticket {ticket_id}"));
    }
    Ok(done)
}
