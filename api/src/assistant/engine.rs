//! The engine's parts and rules: retriever, AI provider, intent cache, the complexity rule, prompts, citations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entities::{assistant, knowledge_base_entry as kb};

use crate::assistant::analysis::Intents;
use crate::assistant::provider::{ChatMessage, Provider};
use crate::assistant::retrieval::Retriever;
use crate::assistant::settings::EngineSettings;
use crate::config::Settings;
use crate::secrets::Sealer;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    retriever: Retriever,
    provider: Provider,
    sealer: Arc<Sealer>,
    message_max_bytes: usize,
    attachment_max_count: usize,
    /// Compiled intents per assistant, valid while the assistant's `updated_at` is unchanged.
    intents: Mutex<HashMap<String, CompiledIntents>>,
}

/// An assistant's intents as compiled at its `updated_at`.
type CompiledIntents = (DateTime<Utc>, Arc<Intents>);

impl Engine {
    pub fn new(
        retriever: Retriever,
        sealer: Arc<Sealer>,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                retriever,
                sealer,
                provider: Provider::new(settings.egress_allow.clone())?,
                message_max_bytes: settings.message_max_bytes,
                attachment_max_count: settings.attachment_max_count,
                intents: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn retriever(&self) -> &Retriever {
        &self.inner.retriever
    }

    /// Opens the sealed provider keys.
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// Largest message body, in bytes of UTF-8 (`CONCIERGE_MESSAGE_MAX_BYTES`).
    pub fn message_max_bytes(&self) -> usize {
        self.inner.message_max_bytes
    }

    /// Attachments one message may carry (`CONCIERGE_ATTACHMENT_MAX_COUNT`).
    pub fn attachment_max_count(&self) -> usize {
        self.inner.attachment_max_count
    }

    /// The assistant's compiled intents.
    pub fn intents(&self, assistant: &assistant::Model, settings: &EngineSettings) -> Arc<Intents> {
        let Ok(mut cache) = self.inner.intents.lock() else {
            return Arc::new(Intents::compile(&settings.intents));
        };
        if let Some((at, compiled)) = cache.get(&assistant.id)
            && *at == assistant.updated_at
        {
            return compiled.clone();
        }
        let compiled = Arc::new(Intents::compile(&settings.intents));
        cache.insert(
            assistant.id.clone(),
            (assistant.updated_at, compiled.clone()),
        );
        compiled
    }
}

/// Which model a question gets: the complex one when the question is long (over 300 characters), asks
/// several things (two or more question marks, or two or more sentences that open with a question word), or
/// the knowledge base found nothing confident; the standard one otherwise.
pub fn is_complex(question: &str, retrieval_failed: bool) -> bool {
    const QUESTION_WORDS: [&str; 12] = [
        "how", "what", "why", "when", "where", "which", "who", "can", "could", "do", "does", "is",
    ];
    let asked = question
        .split(['.', '!', '?', '\n'])
        .filter(|sentence| {
            sentence
                .split_whitespace()
                .next()
                .is_some_and(|w| QUESTION_WORDS.contains(&w.to_lowercase().as_str()))
        })
        .count();
    retrieval_failed
        || question.chars().count() > 300
        || question.matches('?').count() >= 2
        || asked >= 2
}

/// The prompt: instructions, the knowledge-base entries (each tagged with its id), recent turns, the question.
pub fn prompt(
    assistant_name: &str,
    entries: &[kb::Model],
    history: &[(String, String)],
    question: &str,
    page: Option<&str>,
) -> Vec<ChatMessage> {
    let mut system = format!(
        "You are {assistant_name}, a customer service assistant. Answer the visitor's question using only the \
         knowledge-base entries below. After each fact, cite the entry it came from by its id in square brackets, \
         for example [kb_123]. If the entries do not answer the question, say that you do not know and offer to \
         connect the visitor with a person. Be brief and friendly.\n\nKnowledge base:\n"
    );
    if entries.is_empty() {
        system.push_str("(no relevant entries)\n");
    }
    for entry in entries {
        system.push_str(&format!(
            "\n[{}] {}\n{}\n",
            entry.id,
            entry.title,
            truncate(&entry.body, 4000)
        ));
    }
    if let Some(page) = page {
        system.push_str(&format!(
            "\nThe visitor is on this page: {}\n",
            truncate(page, 500)
        ));
    }
    let mut messages = vec![ChatMessage {
        role: "system",
        content: system,
    }];
    for (author, body) in history {
        messages.push(ChatMessage {
            role: if author == "visitor" {
                "user"
            } else {
                "assistant"
            },
            content: truncate(body, 2000).to_owned(),
        });
    }
    messages.push(ChatMessage {
        role: "user",
        content: question.to_owned(),
    });
    messages
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The entry ids cited as `[id]` in `text` that were given in the prompt, in order of first citation.
pub fn citations(text: &str, given: &[kb::Model]) -> Vec<String> {
    let mut cited: Vec<String> = Vec::new();
    for (start, _) in text.match_indices('[') {
        let rest = &text[start + 1..];
        if let Some(end) = rest.find(']') {
            let id = rest[..end].trim();
            if given.iter().any(|e| e.id == id) && !cited.iter().any(|c| c == id) {
                cited.push(id.to_owned());
            }
        }
    }
    cited
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complexity_rule() {
        assert!(!is_complex("How long does shipping take?", false));
        assert!(is_complex("How long does shipping take?", true));
        assert!(is_complex(
            "How long does shipping take? And can I return it?",
            false
        ));
        assert!(is_complex(
            "How do I return shoes. What does it cost",
            false
        ));
        assert!(is_complex(&"word ".repeat(70), false));
    }
}
