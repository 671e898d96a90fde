//! One compliance XML file: a `<Conversations>` document holding one `<Conversation>` (a
//! room, or a room's day or month), written as a stream with quick-xml, in the structure
//! of Microsoft's XML adapter output (see the module doc of [`crate::compliance`]):
//!
//! ```text
//! <Conversations xmlns:xsi=… xmlns:xsd=…>
//!   <Conversation>
//!     <Channel uri="ma-chan://DOMAIN/NODEGUID" name="ROOM"/>
//!     <FirstMessage type="CHAT" content=… id=…><Sender …/><DateTimeUTC …/></FirstMessage>
//!     <Messages>
//!       <Message type="CHAT" content="…" id="CHATID">
//!         <Sender UserName=… id=… email=… internal=… uri=…/>
//!         <DateTimeUTC since1970=… string="…7 digits…Z" long="TICKS"/>
//!       </Message>…
//!     </Messages>
//!     <StartTimeUTC …/> <EndTimeUTC …/>
//!   </Conversation>
//! </Conversations>
//! ```
//!
//! Every attribute value is escaped here (quick-xml writes it as given): `& < > "` and the
//! whitespace characters an XML parser would otherwise normalise in an attribute (tab, LF,
//! CR, as character references), so message text survives byte for byte; characters XML 1.0
//! cannot carry at all (C0 controls, U+FFFE, U+FFFF) become U+FFFD and are counted.

use std::borrow::Cow;
use std::io::Write;

use anyhow::{anyhow, Result};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::name::QName;

use crate::model::{ticks_to_iso7, UNIX_EPOCH_TICKS};

/// The message type of every exported message: a posted chat message. (Microsoft's types
/// also have JOIN, PART, BACKCHAT, FILEUPLOAD and FILEDOWNLOAD: events a migration has no
/// record of.)
pub const CHAT: &str = "CHAT";

/// A message's author, as the `<Sender>` element names it.
#[derive(Debug, Clone)]
pub struct Sender {
    /// `UserName`: the display name, else the SIP address.
    pub user_name: String,
    /// `id`: the legacy `prinID`.
    pub id: i64,
    /// `email`, when the directory had one.
    pub email: Option<String>,
    /// `internal`: false for a federated user.
    pub internal: bool,
    /// `uri`: the target SIP address without its `sip:` scheme, as in Microsoft's example.
    pub uri: String,
}

/// One message to write.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// `id`: the `chatId` (kept by the load).
    pub id: i64,
    /// `content`: the text.
    pub content: &'a str,
    /// The author.
    pub sender: &'a Sender,
    /// `chatDate` (.NET ticks).
    pub ticks: i64,
}

/// A time the way the adapter prints it: `since1970` (milliseconds since the Unix epoch,
/// truncated toward zero as .NET's integer division does), `string` (ISO 8601 UTC with the
/// seven digits of 100 ns) and `long` (the ticks). Out of .NET's range it is an error.
pub fn time_attrs(ticks: i64) -> Result<[(&'static str, String); 3]> {
    let string = ticks_to_iso7(ticks).ok_or_else(|| {
        anyhow!(
            "chatDate {ticks} is outside .NET's DateTime range (0 to 3155378975999999999 ticks)"
        )
    })?;
    let since1970 = (ticks - UNIX_EPOCH_TICKS) / 10_000;
    Ok([("since1970", since1970.to_string()), ("string", string), ("long", ticks.to_string())])
}

/// `s` as an attribute value, and how many characters XML 1.0 could not carry (replaced
/// by U+FFFD).
pub fn escape_attr(s: &str) -> (Cow<'_, str>, u64) {
    let plain = |c: char| !matches!(c, '&' | '<' | '>' | '"' | '\t' | '\n' | '\r') && xml_char(c);
    if s.chars().all(plain) {
        return (Cow::Borrowed(s), 0);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut replaced = 0;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => {
                out.push('\u{FFFD}');
                replaced += 1;
            }
        }
    }
    (Cow::Owned(out), replaced)
}

/// Whether XML 1.0 allows `c` (its `Char` production; Rust chars are never surrogates).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Writes one conversation file as messages arrive; [`Conversation::finish`] closes it.
pub struct Conversation<W: Write> {
    w: quick_xml::Writer<W>,
    first: Option<i64>,
    last: i64,
    /// Messages written.
    pub messages: u64,
    /// Characters replaced by U+FFFD.
    pub replaced: u64,
}

impl<W: Write> Conversation<W> {
    /// Starts the document and its conversation with the room's `<Channel>`.
    pub fn start(inner: W, channel_uri: &str, room_name: &str) -> Result<Conversation<W>> {
        let mut c = Conversation {
            w: quick_xml::Writer::new_with_indent(inner, b' ', 2),
            first: None,
            last: 0,
            messages: 0,
            replaced: 0,
        };
        c.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        let mut root = BytesStart::new("Conversations");
        root.push_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"));
        root.push_attribute(("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"));
        c.w.write_event(Event::Start(root))?;
        c.w.write_event(Event::Start(BytesStart::new("Conversation")))?;
        let mut channel = BytesStart::new("Channel");
        c.attr(&mut channel, "uri", channel_uri);
        c.attr(&mut channel, "name", room_name);
        c.w.write_event(Event::Empty(channel))?;
        Ok(c)
    }

    /// Writes one message (the first also as `<FirstMessage>`, then opens `<Messages>`).
    pub fn message(&mut self, m: &Message<'_>) -> Result<()> {
        let time = time_attrs(m.ticks)?;
        if self.first.is_none() {
            self.first = Some(m.ticks);
            self.element("FirstMessage", m, &time)?;
            self.w.write_event(Event::Start(BytesStart::new("Messages")))?;
        }
        self.element("Message", m, &time)?;
        self.last = m.ticks;
        self.messages += 1;
        Ok(())
    }

    /// Closes `<Messages>`, writes the conversation's start and end times and ends the
    /// document; returns the inner writer. A conversation with no message is an error (the
    /// export writes files only for rooms and slices with messages).
    pub fn finish(mut self) -> Result<W> {
        let first = self.first.ok_or_else(|| anyhow!("a conversation file with no message"))?;
        self.w.write_event(Event::End(BytesEnd::new("Messages")))?;
        for (name, ticks) in [("StartTimeUTC", first), ("EndTimeUTC", self.last)] {
            let mut e = BytesStart::new(name);
            for (k, v) in time_attrs(ticks)? {
                self.attr(&mut e, k, &v);
            }
            self.w.write_event(Event::Empty(e))?;
        }
        self.w.write_event(Event::End(BytesEnd::new("Conversation")))?;
        self.w.write_event(Event::End(BytesEnd::new("Conversations")))?;
        let mut inner = self.w.into_inner();
        inner.write_all(b"\n")?;
        Ok(inner)
    }

    /// `<NAME type content id><Sender/><DateTimeUTC/></NAME>`.
    fn element(&mut self, name: &str, m: &Message<'_>, time: &[(&str, String); 3]) -> Result<()> {
        let mut e = BytesStart::new(name);
        self.attr(&mut e, "type", CHAT);
        let replaced = self.attr(&mut e, "content", m.content);
        if name == "Message" {
            self.replaced += replaced;
        }
        self.attr(&mut e, "id", &m.id.to_string());
        self.w.write_event(Event::Start(e))?;
        let s = m.sender;
        let mut sender = BytesStart::new("Sender");
        self.attr(&mut sender, "UserName", &s.user_name);
        self.attr(&mut sender, "id", &s.id.to_string());
        if let Some(email) = &s.email {
            self.attr(&mut sender, "email", email);
        }
        self.attr(&mut sender, "internal", if s.internal { "true" } else { "false" });
        self.attr(&mut sender, "uri", &s.uri);
        self.w.write_event(Event::Empty(sender))?;
        let mut at = BytesStart::new("DateTimeUTC");
        for (k, v) in time {
            self.attr(&mut at, k, v);
        }
        self.w.write_event(Event::Empty(at))?;
        self.w.write_event(Event::End(BytesEnd::new(name)))?;
        Ok(())
    }

    /// Adds an attribute escaped by [`escape_attr`] (quick-xml writes the value as is);
    /// returns the characters replaced.
    fn attr(&self, e: &mut BytesStart<'_>, key: &str, value: &str) -> u64 {
        let (value, replaced) = escape_attr(value);
        e.push_attribute(Attribute { key: QName(key), value: Cow::Owned(value.into_owned()) });
        replaced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
            user_name: "Ann <A&B>".into(),
            id: 10,
            email: None,
            internal: true,
            uri: "ann@contoso.com".into(),
        }
    }

    /// Microsoft's example instant in its three forms.
    #[test]
    fn times_as_microsoft_prints_them() {
        let [a, b, c] = time_attrs(633_418_086_426_127_374).unwrap();
        assert_eq!(a, ("since1970", "1206211842612".to_string()));
        assert_eq!(b, ("string", "2008-03-22T18:50:42.6127374Z".to_string()));
        assert_eq!(c, ("long", "633418086426127374".to_string()));
        // Before 1970: truncated toward zero, as .NET divides.
        assert_eq!(time_attrs(UNIX_EPOCH_TICKS - 15_000).unwrap()[0].1, "-1");
        assert_eq!(time_attrs(0).unwrap()[1].1, "0001-01-01T00:00:00.0000000Z");
        for bad in [-1, crate::model::MAX_TICKS + 1, i64::MAX, i64::MIN] {
            let e = time_attrs(bad).unwrap_err().to_string();
            assert!(e.contains("outside .NET's DateTime range"), "{e}");
        }
    }

    /// Escaping keeps every character XML can carry and replaces (and counts) the others.
    #[test]
    fn attributes_are_escaped_and_invalid_characters_replaced() {
        assert_eq!(escape_attr("plain é 😀"), (Cow::Borrowed("plain é 😀"), 0));
        let (v, n) = escape_attr("a&b<c>\"d'\t\n\r\u{0}\u{1b}\u{FFFE}😀");
        assert_eq!(v, "a&amp;b&lt;c&gt;&quot;d'&#9;&#10;&#13;\u{FFFD}\u{FFFD}\u{FFFD}😀");
        assert_eq!(n, 3);
    }

    /// A whole file: the documented element order, and a message that is not the first
    /// is written once.
    #[test]
    fn a_conversation_in_the_documented_order() {
        let s = sender();
        let mut c = Conversation::start(Vec::new(), "ma-chan://contoso.com/g", "R&D").unwrap();
        for (id, t) in [(1, 633_418_086_426_127_374), (2, 633_418_086_426_127_375)] {
            let m = Message { id, content: "hi\u{7}", sender: &s, ticks: t };
            c.message(&m).unwrap();
        }
        assert_eq!((c.messages, c.replaced), (2, 2));
        let out = String::from_utf8(c.finish().unwrap()).unwrap();
        let order: Vec<usize> = [
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<Conversations xmlns:xsi=",
            "<Channel uri=\"ma-chan://contoso.com/g\" name=\"R&amp;D\"/>",
            "<FirstMessage type=\"CHAT\" content=\"hi\u{FFFD}\" id=\"1\">",
            "<Messages>",
            "<Message type=\"CHAT\" content=\"hi\u{FFFD}\" id=\"1\">",
            "<Message type=\"CHAT\" content=\"hi\u{FFFD}\" id=\"2\">",
            "</Messages>",
            "<StartTimeUTC since1970=\"1206211842612\" string=\"2008-03-22T18:50:42.6127374Z\"",
            "<EndTimeUTC since1970=\"1206211842612\" string=\"2008-03-22T18:50:42.6127375Z\"",
            "</Conversation>",
            "</Conversations>",
        ]
        .iter()
        .map(|p| out.find(p).unwrap_or_else(|| panic!("{p} missing in\n{out}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
        let sender = "<Sender UserName=\"Ann &lt;A&amp;B&gt;\" id=\"10\" internal=\"true\" uri=\"ann@contoso.com\"/>";
        assert_eq!(out.matches(sender).count(), 3, "{out}");
        assert!(out.contains("<DateTimeUTC since1970=\"1206211842612\" string=\"2008-03-22T18:50:42.6127374Z\" long=\"633418086426127374\"/>"));
        assert!(Conversation::start(Vec::new(), "u", "n").unwrap().finish().is_err());
    }
}
