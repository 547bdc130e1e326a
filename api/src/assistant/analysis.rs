//! What the engine reads from a visitor message: sentiment (VADER), a request for a person, intents.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use vader_parity::SentimentIntensityAnalyzer;

use crate::assistant::settings::Intent;
use crate::error::{ApiError, ApiResult};

static VADER: LazyLock<SentimentIntensityAnalyzer> = LazyLock::new(SentimentIntensityAnalyzer::new);

/// The VADER compound score of `text`, in [-1, 1] (Hutto & Gilbert's lexicon and rules, via `vader-parity`).
pub fn sentiment(text: &str) -> f64 {
    VADER.polarity_scores(text).compound.clamp(-1.0, 1.0)
}

/// Words that ask for a person on their own ("agent", "human"), and phrases built around "person" and its
/// synonyms ("talk to a person", "speak with someone real", "connect me to support staff", "not a bot").
static PERSON_WANTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let nouns = r"(?:person|people|someone|somebody|human|humans|agent|agents|representative|rep|operator|staff|team\s+member|employee)";
    let pattern = format!(
        r"(?x)
        \b(?:human|humans|agent|agents|representative|representatives|operator)\b
        | \b(?:talk|speak|chat|connect|transfer|put|get)\w*\s+(?:me\s+)?(?:to|with|through\s+to)\s+(?:a|an|the|some|your|one\s+of\s+your)?\s*(?:real|live|actual)?\s*{nouns}\b
        | \b(?:real|live|actual)\s+{nouns}\b
        | \bnot\s+(?:a\s+|an\s+)?(?:bot|robot|machine|ai)\b
        | \bstop\s+(?:the\s+)?bot\b
        "
    );
    RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .build()
        .ok()
});

/// Whether the visitor asks for a person, by the built-in phrases or one of `extra` (matched case-insensitively
/// on word boundaries).
pub fn asks_for_person(text: &str, extra: &[String]) -> bool {
    if PERSON_WANTED.as_ref().is_some_and(|re| re.is_match(text)) {
        return true;
    }
    let text = normalize(text);
    extra.iter().any(|phrase| {
        let phrase = normalize(phrase);
        !phrase.is_empty() && format!(" {text} ").contains(&format!(" {phrase} "))
    })
}

/// Lower-case words separated by single spaces, punctuation dropped: how failed queries cluster.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An assistant's intents, ready to match.
#[derive(Debug, Default)]
pub struct Intents {
    rules: Vec<(String, Vec<String>, Vec<Regex>)>,
}

/// Largest compiled size of one intent pattern.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// Compiles one intent pattern (case-insensitive), with a clear error naming the field.
pub fn compile_pattern(field: &str, pattern: &str) -> ApiResult<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| ApiError::validation(field, format!("not a valid regular expression: {e}")))
}

impl Intents {
    /// Compiles the intents (validated when they were saved; a pattern that no longer compiles is skipped).
    pub fn compile(intents: &[Intent]) -> Self {
        Self {
            rules: intents
                .iter()
                .map(|intent| {
                    (
                        intent.name.clone(),
                        intent.keywords.iter().map(|k| normalize(k)).collect(),
                        intent
                            .patterns
                            .iter()
                            .filter_map(|p| compile_pattern("pattern", p).ok())
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    /// The first intent, in configured order, with a keyword (whole words) or a pattern found in `text`.
    pub fn matching(&self, text: &str) -> Option<&str> {
        let padded = format!(" {} ", normalize(text));
        self.rules
            .iter()
            .find(|(_, keywords, patterns)| {
                keywords.iter().any(|k| contains_word(&padded, k))
                    || patterns.iter().any(|re| re.is_match(text))
            })
            .map(|(name, _, _)| name.as_str())
    }
}

/// Whether the padded, normalized `text` holds `keyword` as whole words, allowing a plural or verb ending
/// ("refund" finds "refunds" and "refunded", not "refundable").
fn contains_word(padded: &str, keyword: &str) -> bool {
    const ENDINGS: [&str; 7] = ["", "s", "es", "d", "ed", "ing", "ings"];
    if keyword.is_empty() {
        return false;
    }
    let needle = format!(" {keyword}");
    padded.match_indices(&needle).any(|(at, _)| {
        let rest = &padded[at + needle.len()..];
        ENDINGS.iter().any(|ending| {
            rest.strip_prefix(ending)
                .is_some_and(|r| r.starts_with(' '))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_requests_are_recognised_in_their_common_forms() {
        for text in [
            "Can I talk to a person please?",
            "I want to speak with a real human",
            "agent",
            "Get me an AGENT now",
            "connect me to someone from your team",
            "are you a bot? I need a live person",
            "transfer me to a representative",
            "you're not a bot, right? I want to chat with someone",
        ] {
            assert!(asks_for_person(text, &[]), "{text}");
        }
        for text in [
            "How long does shipping take?",
            "Is the price per person?",
            "Can someone's order be changed?",
        ] {
            assert!(!asks_for_person(text, &[]), "{text}");
        }
        assert!(asks_for_person(
            "I'd like a callback, please",
            &["callback".to_owned()]
        ));
    }

    #[test]
    fn sentiment_is_vader_compound() {
        assert!(sentiment("This is terrible, I am furious and you are useless!") < -0.5);
        assert!(sentiment("Thanks, that was really helpful!") > 0.5);
        assert_eq!(sentiment("Where is my order"), 0.0);
    }

    #[test]
    fn intents_match_keywords_on_word_boundaries_and_patterns() {
        let intents = Intents::compile(&[
            Intent {
                name: "refund".into(),
                keywords: vec!["refund".into(), "money back".into()],
                patterns: vec![],
            },
            Intent {
                name: "cancel".into(),
                keywords: vec![],
                patterns: vec![r"\bcancel(?:l?ing|l?ed)?\b.*\border\b".into()],
            },
        ]);
        assert_eq!(intents.matching("I want my MONEY back!"), Some("refund"));
        assert_eq!(intents.matching("Cancelling my order #42"), Some("cancel"));
        assert_eq!(intents.matching("Are refunds possible?"), Some("refund"));
        assert_eq!(intents.matching("is it refundable"), None);
        assert_eq!(intents.matching("where is my parcel"), None);
    }
}
