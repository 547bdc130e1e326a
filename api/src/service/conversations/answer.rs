//! The assistant's side of a visitor message: sentiment and intent, handoff triggers, the answer from the
//! knowledge base (or the AI provider, with fallback), failed-query records and monthly AI token usage.

use chrono::{Datelike, Utc};
use entities::{
    ai_usage, assistant, conversation, knowledge_base_entry as kb, knowledge_base_query, message,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::mpsc;

use crate::assistant::analysis;
use crate::assistant::engine::{self, Engine};
use crate::assistant::provider::{Failure, Request};
use crate::assistant::remote::RemoteModel;
use crate::assistant::retrieval::{Candidate, Question};
use crate::assistant::settings::{EngineSettings, ProviderSettings};
use crate::db::{Db, WriteTxn};
use crate::error::ApiResult;
use crate::events::{names, outbox};
use crate::ids::{Kind, new_id};
use crate::service::assistants;
use crate::service::conversations::messages::{self, Author, NewMessage, PostedMessage};
use crate::service::conversations::{self, Status};
use crate::service::{knowledge_base, now};

/// Candidates kept for the answer, the prompt and the failed-query event.
const CANDIDATES: usize = 3;
/// Earlier messages of the conversation given to the AI provider.
const HISTORY: u64 = 6;

/// The page a visitor asks from, when it is not the one the conversation started on (the widget follows the
/// visitor across a site's pages); retrieval ranks with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub url: Option<String>,
    pub title: Option<String>,
    pub context: Option<String>,
}

/// What a visitor sends: the text (blank when attachments carry it), the uploads it carries, and the page it is
/// asked from (without one, the conversation's page).
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    pub body: String,
    pub attachment_ids: Vec<String>,
    pub page: Option<Page>,
}

/// Stores a visitor message in `txn` (with its sentiment and intent), applies the handoff triggers, commits,
/// then answers it unless the conversation is with a person or the assistant does not reply.
///
/// `page` is where the visitor asks from; without it, the conversation's page.
pub(crate) async fn visitor_message(
    db: &Db,
    engine: &Engine,
    txn: WriteTxn<'_>,
    conversation: conversation::Model,
    incoming: Incoming,
    deltas: Option<&mpsc::Sender<String>>,
) -> ApiResult<PostedMessage> {
    let Incoming {
        body,
        attachment_ids,
        page,
    } = incoming;
    let org = conversation.organization_id.clone();
    let assistant = assistants::find(&*txn, &org, &conversation.assistant_id).await?;
    let settings = assistants::engine(&assistant);
    // A message with only attachments has no words to weigh.
    let sentiment = (!body.trim().is_empty()).then(|| analysis::sentiment(&body));
    let intent = engine
        .intents(&assistant, &settings)
        .matching(&body)
        .map(str::to_owned);
    let (message, conversation, attachments) = messages::insert_with_attachments(
        &txn,
        &conversation,
        NewMessage {
            sentiment,
            intent,
            attachment_ids,
            ..NewMessage::new(Author::Visitor, body)
        },
    )
    .await?;
    let open = conversations::status(&conversation)? == Status::Open;
    let trigger = if !open {
        None
    } else if analysis::asks_for_person(&message.body, &settings.handoff_phrases) {
        Some(("visitor_request", json!({"message_id": message.id})))
    } else {
        settings
            .negative_sentiment_threshold
            .zip(sentiment)
            .filter(|(threshold, sentiment)| sentiment < threshold)
            .map(|(threshold, sentiment)| {
                (
                    "negative_sentiment",
                    json!({"message_id": message.id, "sentiment": sentiment, "threshold": threshold}),
                )
            })
    };
    if let Some((reason, details)) = trigger {
        let reply = hand_off(&txn, &conversation, &settings, &message, reason, details).await?;
        txn.commit().await?;
        send_whole(deltas, &reply.body).await;
        return Ok(PostedMessage {
            message,
            replies: vec![reply],
            attachments,
        });
    }
    txn.commit().await?;
    // A message with only a screenshot asks nothing the knowledge base can answer.
    if !open || !settings.auto_reply || message.body.trim().is_empty() {
        return Ok(PostedMessage {
            message,
            replies: Vec::new(),
            attachments,
        });
    }

    // Retrieval and the provider run outside any transaction: the visitor message is visible at once, and a
    // slow provider holds no lock.
    let turn = PendingAnswer {
        db,
        engine,
        assistant: &assistant,
        settings: &settings,
        conversation: &conversation,
        message: &message,
        page: page.as_ref(),
    };
    let answer = answer(&turn, deltas).await?;
    let txn = db.begin_write().await?;
    let current = conversations::find(&*txn, &org, &conversation.id).await?;
    let query = knowledge_base_query::ActiveModel {
        id: Set(new_id(Kind::KnowledgeBaseQuery)),
        organization_id: Set(org.clone()),
        assistant_id: Set(assistant.id.clone()),
        conversation_id: Set(current.id.clone()),
        message_id: Set(message.id.clone()),
        query: Set(message.body.clone()),
        normalized: Set(normalized_query(&message.body)),
        best_entry_id: Set(answer.candidates.first().map(|c| c.entry_id.clone())),
        confidence: Set(answer.confidence),
        failed: Set(answer.failed),
        created_at: Set(now()),
    }
    .insert(&*txn)
    .await?;
    if conversations::status(&current)? != Status::Open {
        // A person took the conversation over while the answer was being written.
        txn.commit().await?;
        return Ok(PostedMessage {
            message,
            replies: Vec::new(),
            attachments,
        });
    }
    let (reply, conversation) = messages::insert(
        &txn,
        &current,
        NewMessage {
            source_entry_id: answer.source_entry_id.clone(),
            confidence: Some(answer.confidence),
            reply_to_id: Some(message.id.clone()),
            reply_source: Some(answer.source),
            fallback_reason: answer.fallback_reason.clone(),
            citations: answer.citations.clone(),
            ..NewMessage::new(Author::Assistant, answer.body.clone())
        },
    )
    .await?;
    let mut replies = vec![reply];
    if answer.failed {
        let mut counters = conversation.clone().into_active_model();
        counters.failed_responses = Set(conversation.failed_responses + 1);
        counters.failed_total = Set(conversation.failed_total + 1);
        let counted = counters.update(&*txn).await?;
        let bumped = outbox::bump_conversation(&txn, &org, &counted.id).await?;
        outbox::record(
            &txn,
            &org,
            names::KNOWLEDGE_BASE_QUERY_FAILED,
            Some(&bumped),
            json!({
                "query_id": query.id,
                "conversation_id": bumped.id,
                "visitor_id": bumped.visitor_id,
                "assistant_id": bumped.assistant_id,
                "message_id": message.id,
                "reply_id": replies[0].id,
                "query": message.body,
                "confidence": answer.confidence,
                "threshold": settings.confidence_threshold,
                "candidates": answer.candidates.iter().map(|c| json!({
                    "entry_id": c.entry_id,
                    "title": c.title,
                    "score": c.score,
                    "lexical_score": c.lexical.map(|p| p.score),
                    "semantic_score": c.semantic.map(|p| p.score),
                })).collect::<Vec<_>>(),
                "failed_responses": bumped.failed_responses,
            }),
        )
        .await?;
        if settings.max_failed_responses > 0
            && bumped.failed_responses >= settings.max_failed_responses as i32
        {
            let details = json!({
                "message_id": message.id,
                "failed_responses": bumped.failed_responses,
                "limit": settings.max_failed_responses,
            });
            replies.push(
                hand_off(
                    &txn,
                    &bumped,
                    &settings,
                    &message,
                    "failed_responses",
                    details,
                )
                .await?,
            );
        }
    } else if conversation.failed_responses != 0 {
        let mut counters = conversation.into_active_model();
        counters.failed_responses = Set(0);
        counters.update(&*txn).await?;
    }
    txn.commit().await?;
    Ok(PostedMessage {
        message,
        replies,
        attachments,
    })
}

/// Hands the conversation off and tells the visitor so.
async fn hand_off(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    settings: &EngineSettings,
    message: &message::Model,
    reason: &str,
    details: serde_json::Value,
) -> ApiResult<message::Model> {
    let conversation = conversations::hand_off(txn, conversation, reason, details).await?;
    let (reply, _) = messages::insert(
        txn,
        &conversation,
        NewMessage {
            reply_to_id: Some(message.id.clone()),
            reply_source: Some("handoff"),
            ..NewMessage::new(Author::Assistant, settings.handoff_message.clone())
        },
    )
    .await?;
    Ok(reply)
}

/// What the assistant will say, and what it found.
struct Answer {
    body: String,
    source: &'static str,
    source_entry_id: Option<String>,
    confidence: f64,
    fallback_reason: Option<String>,
    citations: Option<Vec<String>>,
    candidates: Vec<Candidate>,
    failed: bool,
}

/// Sends a whole answer as one piece to a streaming caller.
async fn send_whole(deltas: Option<&mpsc::Sender<String>>, text: &str) {
    if let Some(deltas) = deltas {
        let _ = deltas.send(text.to_owned()).await;
    }
}

/// One visitor message being answered, and what answering it needs.
struct PendingAnswer<'a> {
    db: &'a Db,
    engine: &'a Engine,
    assistant: &'a assistant::Model,
    settings: &'a EngineSettings,
    conversation: &'a conversation::Model,
    message: &'a message::Model,
    page: Option<&'a Page>,
}

/// The knowledge-base answer (the best entry quoted, or the fallback message below the threshold), replaced
/// by the AI provider's when one is configured and answers in time within the token limit.
async fn answer(
    turn: &PendingAnswer<'_>,
    deltas: Option<&mpsc::Sender<String>>,
) -> ApiResult<Answer> {
    let PendingAnswer {
        db,
        engine,
        assistant,
        settings,
        conversation,
        message,
        page,
    } = *turn;
    let org = &conversation.organization_id;
    let question = match page {
        Some(page) => Question {
            text: message.body.clone(),
            page_title: page.title.clone(),
            page_url: page.url.clone(),
            page_context: page.context.clone(),
        },
        None => Question {
            text: message.body.clone(),
            page_title: conversation.page_title.clone(),
            page_url: conversation.source_url.clone(),
            page_context: conversation.page_context.clone(),
        },
    };
    let remote = remote_model(engine, assistant, settings);
    let ranked = knowledge_base::rank(
        db,
        engine.retriever(),
        org,
        question,
        CANDIDATES,
        remote.as_ref(),
    )
    .await?;
    let confidence = ranked.confidence.clamp(0.0, 1.0);
    let candidates: Vec<Candidate> = ranked
        .matches
        .iter()
        .map(|m| Candidate {
            entry_id: m.entry.id.clone(),
            title: m.entry.title.clone(),
            score: m.score,
            lexical: m.lexical,
            semantic: m.semantic,
        })
        .collect();
    let entries: Vec<kb::Model> = ranked.matches.into_iter().map(|m| m.entry).collect();
    let best = entries
        .first()
        .filter(|_| confidence >= settings.confidence_threshold);
    let failed = best.is_none();
    let mut answer = Answer {
        body: best.map_or_else(|| settings.fallback_message.clone(), |e| e.body.clone()),
        source: if failed { "fallback" } else { "knowledge_base" },
        source_entry_id: best.map(|e| e.id.clone()),
        confidence,
        fallback_reason: failed.then(|| "low_confidence".to_owned()),
        citations: None,
        candidates,
        failed,
    };
    if let Some(provider) = &settings.provider {
        match ask_provider(turn, provider, &entries, failed, deltas).await? {
            Ok((text, cited)) => {
                // The first entry cited, else the confident best entry (none when retrieval failed).
                answer.source_entry_id = cited.first().cloned().or(answer.source_entry_id.take());
                answer.body = text;
                answer.source = "ai";
                answer.fallback_reason = None;
                answer.citations = Some(cited);
                return Ok(answer);
            }
            Err(reason) => {
                tracing::warn!(assistant = %assistant.id, %reason, "AI provider not used; answering from the knowledge base");
                answer.fallback_reason = Some(reason);
            }
        }
    }
    send_whole(deltas, &answer.body).await;
    Ok(answer)
}

/// The embeddings model of the assistant's provider, when it has one (and its key, if any, can be read): the
/// assistant ranks with it, the built-in model being the fallback.
pub(crate) fn remote_model(
    engine: &Engine,
    assistant: &assistant::Model,
    settings: &EngineSettings,
) -> Option<RemoteModel> {
    let provider = settings.provider.as_ref()?;
    let model = provider.embedding_model.as_ref()?;
    let key = provider_key(engine, assistant).ok()?;
    Some(RemoteModel::new(
        engine.provider().clone(),
        &provider.base_url,
        model,
        key,
    ))
}

/// The assistant's provider key, unsealed (`None`: it has none; `Err`: it cannot be read).
fn provider_key(engine: &Engine, assistant: &assistant::Model) -> Result<Option<SecretString>, ()> {
    match &assistant.provider_key {
        Some(sealed) => engine
            .sealer()
            .open(sealed, &assistants::provider_key_context(&assistant.id))
            .map(Some)
            .map_err(|_| ()),
        None => Ok(None),
    }
}

/// The provider's answer with the entry ids it cited, or why there is none (`token_limit`,
/// `provider_timeout`, `provider_error`, `provider_malformed`, `provider_key_unreadable`).
async fn ask_provider(
    turn: &PendingAnswer<'_>,
    provider: &ProviderSettings,
    entries: &[kb::Model],
    retrieval_failed: bool,
    deltas: Option<&mpsc::Sender<String>>,
) -> ApiResult<Result<(String, Vec<String>), String>> {
    let PendingAnswer {
        db,
        engine,
        assistant,
        conversation,
        message,
        ..
    } = *turn;
    let org = &conversation.organization_id;
    if let Some(limit) = provider.monthly_token_limit
        && tokens_this_month(db, org).await? >= limit
    {
        return Ok(Err("token_limit".to_owned()));
    }
    let Ok(key) = provider_key(engine, assistant) else {
        return Ok(Err("provider_key_unreadable".to_owned()));
    };
    let history: Vec<(String, String)> = message::Entity::find()
        .select_only()
        .column(message::Column::Author)
        .column(message::Column::Body)
        .filter(message::Column::OrganizationId.eq(org))
        .filter(message::Column::ConversationId.eq(&conversation.id))
        .filter(message::Column::Id.lt(&message.id))
        .order_by_desc(message::Column::Id)
        .limit(HISTORY)
        .into_tuple()
        .all(db.conn())
        .await?
        .into_iter()
        .rev()
        .collect();
    let model = if engine::is_complex(&message.body, retrieval_failed) {
        &provider.complex_model
    } else {
        &provider.standard_model
    };
    let request = Request {
        base_url: &provider.base_url,
        api_key: key.as_ref(),
        model,
        messages: engine::prompt(
            &assistant.name,
            entries,
            &history,
            &message.body,
            match turn.page {
                Some(page) => page.title.as_deref().or(page.url.as_deref()),
                None => conversation
                    .page_title
                    .as_deref()
                    .or(conversation.source_url.as_deref()),
            },
        ),
        max_tokens: provider.max_tokens,
        timeout: std::time::Duration::from_secs(u64::from(provider.timeout_secs)),
    };
    match engine.provider().complete(request, deltas).await {
        Ok(completion) => {
            add_tokens(
                db,
                org,
                completion.prompt_tokens,
                completion.completion_tokens,
            )
            .await?;
            let cited = engine::citations(&completion.text, entries);
            if completion.text.trim().is_empty() {
                return Ok(Err("provider_malformed".to_owned()));
            }
            Ok(Ok((completion.text, cited)))
        }
        Err(failure) => {
            if let Failure::Error(detail) | Failure::Malformed(detail) = &failure {
                tracing::warn!(assistant = %assistant.id, %detail, "AI provider failed");
            }
            Ok(Err(failure.reason().to_owned()))
        }
    }
}

/// `YYYY-MM` of now, UTC: the month token usage is counted in.
fn this_month() -> String {
    let today = Utc::now();
    format!("{:04}-{:02}", today.year(), today.month())
}

/// Tokens the organization used this month.
pub(crate) async fn tokens_this_month(db: &Db, organization_id: &str) -> ApiResult<u64> {
    let row = ai_usage::Entity::find_by_id((organization_id.to_owned(), this_month()))
        .one(db.conn())
        .await?;
    Ok(row.map_or(0, |r| (r.prompt_tokens + r.completion_tokens).max(0) as u64))
}

/// Adds one call's tokens to the organization's month, atomically (an upsert that adds to the stored counts).
async fn add_tokens(db: &Db, organization_id: &str, prompt: u64, completion: u64) -> ApiResult<()> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
    let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let add = |column: ai_usage::Column| {
        Expr::col((ai_usage::Entity, column)).add(Expr::col((Alias::new("excluded"), column)))
    };
    let row = ai_usage::ActiveModel {
        organization_id: Set(organization_id.to_owned()),
        month: Set(this_month()),
        prompt_tokens: Set(tokens(prompt)),
        completion_tokens: Set(tokens(completion)),
        requests: Set(1),
    };
    let txn = db.begin_write().await?;
    ai_usage::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([ai_usage::Column::OrganizationId, ai_usage::Column::Month])
                .value(
                    ai_usage::Column::PromptTokens,
                    add(ai_usage::Column::PromptTokens),
                )
                .value(
                    ai_usage::Column::CompletionTokens,
                    add(ai_usage::Column::CompletionTokens),
                )
                .value(ai_usage::Column::Requests, add(ai_usage::Column::Requests))
                .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The clustering key of a failed query: normalized text, at most 200 characters.
fn normalized_query(text: &str) -> String {
    analysis::normalize(text).chars().take(200).collect()
}
