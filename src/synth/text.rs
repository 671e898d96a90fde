//! The generator's vocabulary: names of OUs, categories, rooms and people, and the words
//! that fill topics and messages. Kept apart from the generators so that the lists read as
//! data, and so that every phase draws names the same way.

use std::sync::OnceLock;

use super::rng::Rng;

// `|`-separated lists, so that they stay compact on the page.
pub(super) const OUS: &str =
    "Corp|Sales|Engineering|Marketing|Finance|Human Resources|IT|Operations|Legal|\
    Support|Research|Facilities";
pub(super) const CATEGORIES: &str =
    "Sales|Engineering|Marketing|Finance|Human Resources|Operations|Legal|\
    Support|Research|Product|IT|EMEA|North America|APAC|LATAM|Platform|Security|Partners|Projects|\
    Communications|Procurement|Data";
pub(super) const ROOMS: &str =
    "Pipeline|Standup|Announcements|Help Desk|Releases|Incidents|Design Review|\
    Social|Town Hall|Forecast|Key Accounts|Builds|On-call|Hiring|Budget|Roadmap|Café ☕|Q&A|\
    Ops Handoff|Planning";
pub(super) const FIRST: &str =
    "Anna|Pierre|John|Mei|Carlos|Aiko|Sofia|Klaus|Priya|José|Zoë|Søren|Łukasz|\
    Chloé|Omar|Helen|Dmitri|Fatima|Li|Noah";
pub(super) const LAST: &str =
    "Lindqvist|Dubois|Smith|Chen|García|Tanaka|Rossi|Müller|Natarajan|Núñez|\
    O'Brien|Kowalski|Haddad|Nguyen|Ivanova|Brown|Wang";
const WORDS: &str = "the|a|we|is|on|for|to|and|meeting|release|build|customer|deal|please|update|\
    review|today|tomorrow|thanks|ok|agreed|pipeline|ticket|server|deploy|budget|forecast|quarter|\
    draft|slides|call|team|project|status|issue|fixed|broken|green|done|next|week|Monday|Friday|\
    approve|contract|legal|invoice|report|dashboard|latency|outage|v4.2|10:00|UTC|3.5M|EUR|#4521|\
    can|you|check|it's|I'll";
const UNICODE_WORDS: &str = "café|naïve|résumé|Grüße|Zürich|façade|jalapeño|Kündigungsfrist|\
    crème brûlée|Łódź|Ελλάδα|Привет|東京|会议|مرحبا|שלום|🎉|👍|🚀|😊|🍕|✅|👍🏽|🇫🇷|…|—|«ok»";

/// Entry `i` (modulo the length) of a `|`-separated list.
pub(super) fn item(list: &'static str, i: u64) -> &'static str {
    let n = list.matches('|').count() as u64 + 1;
    list.split('|').nth((i % n) as usize).unwrap_or_default()
}

/// Entry `i` of a list, numbered once the list is used up, so that names stay unique.
pub(super) fn numbered(list: &'static str, i: u64) -> String {
    let n = list.matches('|').count() as u64 + 1;
    let base = item(list, i);
    if i < n {
        base.to_string()
    } else {
        format!("{base} {}", i / n + 1)
    }
}

/// Words (a few unicode ones among them) appended to `s` until it holds `target` bytes.
pub(super) fn fill_words(rng: &mut Rng, s: &mut String, target: usize) {
    static LISTS: OnceLock<[Vec<&str>; 2]> = OnceLock::new();
    let [plain, unicode] =
        LISTS.get_or_init(|| [WORDS, UNICODE_WORDS].map(|l| l.split('|').collect()));
    let mut capital = true;
    while s.trim_end().len() < target {
        let list = if rng.chance(60) { unicode } else { plain };
        let at = s.len();
        s.push_str(list[rng.below(list.len() as u64) as usize]);
        if let Some(c) = s.get_mut(at..at + 1).filter(|_| capital) {
            c.make_ascii_uppercase();
        }
        let (sep, ends) = match rng.below(100) {
            0 if target > 300 => (".\n\n", true),
            0..=6 => (". ", true),
            7 => ("? ", true),
            8..=10 => (", ", false),
            _ => (" ", false),
        };
        s.push_str(sep);
        capital = ends;
    }
    s.truncate(s.trim_end().len());
}
