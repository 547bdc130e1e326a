//! Misspelled question words corrected to the knowledge base's own words before the model reads them, and the typo search it shares with BM25.

use std::borrow::Cow;
use std::collections::HashMap;

use tantivy::query::FuzzyTermQuery;
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// `text` with each word that neither the entries nor `known` (the model's vocabulary) have replaced by the
/// entries' nearest word: one edit away (two from eight letters), the fewest edits first, then the most common.
/// The model cuts a word it has never seen into pieces that mean little ("delivary" is "del", "##iva",
/// "##ry"), so a misspelling costs the meaning of a question more than its words. Words under four letters,
/// with digits or outside ASCII, contractions ("didn't", "dont") and plurals of known words are left as
/// they are.
pub(crate) fn spelled<'a>(
    searcher: &Searcher,
    field: Field,
    text: &'a str,
    known: impl Fn(&str) -> bool,
) -> tantivy::Result<Cow<'a, str>> {
    let mut out = String::new();
    let mut copied = 0;
    for (start, word) in word_spans(text) {
        let lower = word.to_ascii_lowercase();
        let Some(most) = edits_allowed(&lower) else {
            continue;
        };
        // A plural, or a contraction without its apostrophe ("dont", "whats"), of a word the model knows is
        // no misspelling.
        let plural_or_contraction = lower.strip_suffix(['s', 't']).is_some_and(&known);
        if known(&lower)
            || plural_or_contraction
            || searcher.doc_freq(&Term::from_field_text(field, &lower))? > 0
        {
            continue;
        }
        for distance in 1..=most {
            let mut found = HashMap::new();
            nearby(searcher, field, &lower, distance, &mut found)?;
            let best = found
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
            if let Some((correction, _)) = best {
                out.push_str(&text[copied..start]);
                out.push_str(&correction);
                copied = start + word.len();
                break;
            }
        }
    }
    if copied == 0 {
        return Ok(Cow::Borrowed(text));
    }
    out.push_str(&text[copied..]);
    Ok(Cow::Owned(out))
}

/// How many edits a word may be from what it is corrected to: none under four letters, one, two from eight.
pub(crate) fn edits_allowed(word: &str) -> Option<u8> {
    match word.chars().count() {
        0..4 => None,
        4..8 => Some(1),
        _ => Some(2),
    }
}

/// Adds to `found` the terms of `field` within `distance` edits of `term` (a transposition is one edit), with
/// the number of entries that have each.
pub(crate) fn nearby(
    searcher: &Searcher,
    field: Field,
    term: &str,
    distance: u8,
    found: &mut HashMap<String, u64>,
) -> tantivy::Result<()> {
    let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, term), distance, true);
    let automaton = fuzzy.automaton()?;
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted.terms().search(&automaton).into_stream()?;
        while stream.advance() {
            if let Ok(text) = std::str::from_utf8(stream.key()) {
                let n = stream.value().doc_freq as u64;
                *found.entry(text.to_owned()).or_default() += n;
            }
        }
    }
    Ok(())
}

/// The words of `text` that spelling may correct, with where each starts: runs of ASCII letters, not touching a
/// digit, an apostrophe or another letter.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let joins = |c: char| c.is_alphanumeric() || matches!(c, '\'' | '\u{2019}' | '_' | '-');
    text.split(move |c: char| !joins(c))
        .filter(|run| !run.is_empty())
        .filter(|run| run.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(move |run| (run.as_ptr() as usize - text.as_ptr() as usize, run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assistant::index::OrgIndex;
    use entities::knowledge_base_entry as kb;

    fn entry(id: &str, title: &str, body: &str) -> kb::Model {
        kb::Model {
            id: id.to_owned(),
            organization_id: "org".to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            category: Some("Orders".to_owned()),
            tags: serde_json::json!(["tracking"]),
            active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn index() -> OrgIndex {
        OrgIndex::build(&[
            entry(
                "a",
                "Delivery times",
                "Standard delivery takes 3 to 5 days.",
            ),
            entry(
                "b",
                "Shipping abroad",
                "We ship to 40 countries; shipping is free.",
            ),
            entry(
                "c",
                "Change your address",
                "Edit the address in your account.",
            ),
        ])
        .unwrap()
    }

    #[test]
    fn misspelled_words_are_spelled_as_the_entries_write_them() {
        let index = index();
        let vocabulary =
            |word: &str| ["how", "long", "does", "take", "where", "settings"].contains(&word);
        let spelled = |text| index.spelled(text, vocabulary).unwrap().into_owned();
        // One edit, a transposition, two edits in a long word, and a word of the tags and of the category.
        assert_eq!(
            spelled("How long does delivary take for shiping?"),
            "How long does delivery take for shipping?"
        );
        assert_eq!(spelled("Can I chnage my adress"), "Can I change my address");
        assert_eq!(
            spelled("Where is my trakcing for ordres?"),
            "Where is my tracking for orders?"
        );
        assert_eq!(spelled("ACOUNT settings"), "account settings");
    }

    #[test]
    fn known_short_and_unmatched_words_are_left_alone() {
        let index = index();
        let model_knows = |word: &str| ["recieve", "don", "what", "tape"].contains(&word);
        let text = "Do I recieve it? Teh boxx didn't arrive, dont know whats up with the tapes, 2dayz x-ray qwertyuiop";
        // A word the model knows, words under four letters, contractions with or without their apostrophe, plurals
        // of known words ("tapes" is one edit from "takes"), words with digits or hyphens, and a word nothing resembles are what they were: nothing
        // is copied.
        assert!(matches!(index.spelled(text, model_knows).unwrap(), Cow::Borrowed(t) if t == text));
        // A word of the entries needs no correction even when the model does not know it.
        assert!(matches!(
            index.spelled("shipping delivery", |_| false).unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
