//! Synthetic Lync 2010 Group Chat databases, for rehearsals and benchmarks.
//!
//! [`generate`] fills a database that already holds the legacy 2010 schema
//! (`fixtures/schema/legacy2010.*.sql`) with a plausible deployment: principals with their
//! full (transitive) affiliation lists, a nested category tree with scopes, member lists,
//! managers and auditorium rooms, and a skewed chat history. Everything is drawn from a
//! seeded SplitMix64 generator, one stream per phase, so the same options write the same
//! rows in the same order. The history is generated while it is written, in multi-row
//! INSERTs and large transactions, so memory depends on users and rooms, never on messages.

use anyhow::{bail, Context, Result};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use crate::db::{Db, Dialect};
use crate::progress::Progress;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Users (type 5; about 1% are federated, type 7).
    pub users: u64,
    /// AD security groups (type 9).
    pub groups: u64,
    /// Chat rooms (categories are added: about one per 8 rooms, at least 3).
    pub rooms: u64,
    /// Messages over all rooms, exactly.
    pub messages: u64,
    /// Seed: the same options give the same database.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthSummary {
    /// Users, federated ones included.
    pub users: u64,
    /// AD security groups.
    pub groups: u64,
    /// Categories, not counting the root.
    pub categories: u64,
    /// Chat rooms.
    pub rooms: u64,
    /// Messages.
    pub messages: u64,
}

const T0: i64 = 634_000_000_000_000_000; // .NET ticks, mid-January 2010
const DAY: i64 = 864_000_000_000;
const ROWS_PER_STMT: usize = 500;
const ROWS_PER_TX: u64 = 50_000;
const SYSTEM: i64 = 1;
const DOMAIN: i64 = 2;
const MEMBER: i64 = 11;
const MANAGER: i64 = 12;
const VOICED: i64 = 13;
const VERIFIED_ON: &str = "2011-06-30 02:00:00";
const FILESTORE: &str = "https://gcweb.contoso.example/MGCWebService/MGCWebService.asmx";

/// The static lookup tables. Role ids are deliberately not 1, 2, 3 (tools must match names).
const STATIC_SQL: &[&str] = &[
    "INSERT INTO tblPrincipalType (ptypeID, ptypeDesc, ptypeIsSystemUser, ptypeIsUser, \
     ptypeIsFederated) VALUES (1, 'Any', 0, 0, 0), (2, 'AnyUser', 0, 1, 0), (3, 'AnyGroup', 0, 0, 0), \
     (4, 'SystemUser', 1, 0, 0), (5, 'User', 0, 1, 0), (6, 'ExternalUser', 0, 1, 0), \
     (7, 'FederatedUser', 0, 1, 1), (8, 'DC', 0, 0, 0), (9, 'Group', 0, 0, 0), \
     (10, 'Folder', 0, 0, 0), (11, 'Federated Group', 0, 0, 1)",
    "INSERT INTO tblEnumAttribute (attributeID, attributeName) VALUES (1, 'Visibility'), (2, 'Behavior')",
    "INSERT INTO tblEnumValue (valueID, attributeID, attributeValue) VALUES (2, 1, 'private'), \
     (3, 1, 'scope'), (4, 2, 'normal'), (5, 2, 'auditorium')",
    "INSERT INTO tblRoleType (rtypeID, rtypeDesc, rtypeAllowedPermSet, honorsOverride, honorsScope) \
     VALUES (11, 'Member', 3968, 1, 1), (12, 'Manager', 12276, 0, 0), (13, 'Voiced', 8064, 0, 1)",
];

const OU_NAMES: &[&str] = &["Corp", "Sales", "Engineering", "Marketing", "Finance", "Human Resources",
    "IT", "Operations", "Legal", "Support", "Research", "Facilities"];
const CATEGORY_NAMES: &[&str] = &["Sales", "Engineering", "Marketing", "Finance", "Human Resources",
    "Operations", "Legal", "Support", "Research", "Product", "IT", "EMEA", "North America", "APAC",
    "LATAM", "Platform", "Security", "Partners", "Projects", "Communications", "Procurement", "Data"];
const ROOM_NAMES: &[&str] = &["Pipeline", "Standup", "Announcements", "Help Desk", "Releases",
    "Incidents", "Design Review", "Social", "Town Hall", "Forecast", "Key Accounts", "Builds",
    "On-call", "Hiring", "Budget", "Roadmap", "Café ☕", "Q&A", "Ops Handoff", "Planning"];
const FIRST: &[&str] = &["Anna", "Pierre", "John", "Mei", "Carlos", "Aiko", "Sofia", "Klaus", "Priya",
    "José", "Zoë", "Søren", "Łukasz", "Chloé", "Omar", "Helen", "Dmitri", "Fatima", "Li", "Noah"];
const LAST: &[&str] = &["Lindqvist", "Dubois", "Smith", "Chen", "García", "Tanaka", "Rossi", "Müller",
    "Natarajan", "Núñez", "O'Brien", "Kowalski", "Haddad", "Nguyen", "Ivanova", "Brown", "Wang"];
const WORDS: &[&str] = &["the", "a", "we", "is", "on", "for", "to", "and", "meeting", "release", "build",
    "customer", "deal", "please", "update", "review", "today", "tomorrow", "thanks", "ok", "agreed",
    "pipeline", "ticket", "server", "deploy", "budget", "forecast", "quarter", "draft", "slides",
    "call", "team", "project", "status", "issue", "fixed", "broken", "green", "done", "next", "week",
    "Monday", "Friday", "approve", "contract", "legal", "invoice", "report", "dashboard", "latency",
    "outage", "v4.2", "10:00", "UTC", "3.5M", "EUR", "#4521", "can", "you", "check", "it's", "I'll"];
const UNICODE_WORDS: &[&str] = &["café", "naïve", "résumé", "Grüße", "Zürich", "façade", "jalapeño",
    "Kündigungsfrist", "crème brûlée", "Łódź", "Ελλάδα", "Привет", "東京", "会议", "مرحبا", "שלום",
    "🎉", "👍", "🚀", "😊", "🍕", "✅", "👍🏽", "🇫🇷", "…", "—", "«ok»"];

/// SplitMix64: tiny, fast, and its stream never changes (unlike the `rand` crate's).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// An independent stream per phase, so changing one phase leaves the others' data alone.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// In `0..n`, skewed towards 0 (the scaled product of two uniforms).
    fn skewed(&mut self, n: u64) -> u64 {
        let (a, b) = (u128::from(self.below(n)), u128::from(self.below(n)));
        (a * b / u128::from(n.max(1))) as u64
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// A version-4 GUID, lowercase 8-4-4-4-12.
    fn guid(&mut self) -> String {
        let a = (self.next() & !0xF000) | 0x4000;
        let b = (self.next() & !(3 << 62)) | (2 << 62);
        let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF);
        format!("{a1:08x}-{a2:04x}-{a3:04x}-{:04x}-{:012x}", b >> 48, b & 0xFFFF_FFFF_FFFF)
    }
}

/// One bound value; the NULLs carry the type that PostgreSQL needs.
#[derive(Debug, Clone)]
enum V {
    Int(i64),
    Bit(i32),
    Text(String),
    NullInt,
    NullBit,
    NullText,
}

fn bit(b: bool) -> V {
    V::Bit(i32::from(b))
}

fn obit(b: Option<i32>) -> V {
    b.map_or(V::NullBit, V::Bit)
}

fn otext(s: Option<String>) -> V {
    s.map_or(V::NullText, V::Text)
}

/// How a column's placeholder is written (PostgreSQL casts text into uuid and timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Guid,
    Time,
}

use Kind::{Guid, Plain as P, Time};

type Cols = &'static [(&'static str, Kind)];
const PRINCIPAL_COLS: Cols = &[("prinID", P), ("prinGuid", Guid), ("prinUri", P), ("prinName", P),
    ("prinCompanyName", P), ("prinEmail", P), ("prinADPath", P), ("prinADUserPrincipalName", P),
    ("prinDisabled", P), ("prinTypeID", P), ("prinAllowedPermSet", P), ("prinUseInheritedPerms", P),
    ("prinAddedBy", P), ("prinAddedOn", P), ("prinUpdatedBy", P), ("prinUpdatedOn", P),
    ("prinVerifiedOn", Time)];
const AFFILIATION_COLS: Cols =
    &[("principalID", P), ("affiliationID", P), ("\"index\"", P), ("updatedBy", P)];
const NODE_COLS: Cols = &[("nodeID", P), ("nodeGuid", Guid), ("parentID", P), ("nodeType", P),
    ("nodeName", P), ("nodeDesc", P), ("topic", P), ("filestoreURI", P), ("inheritance", P),
    ("scopeChange", P), ("overrideMember", P), ("invite", P), ("logged", P), ("filePost", P),
    ("disabled", P), ("restrictChildCreate", P), ("behavior", P), ("visibility", P),
    ("scopeDefinerId", P), ("roleDefinerId", P), ("siopID", Guid), ("nodeAddedBy", P),
    ("nodeAddedOn", P), ("nodeUpdatedBy", P), ("nodeUpdatedOn", P)];
const SCOPE_COLS: Cols = &[("scopeNodeID", P), ("scopePrinID", P), ("scopeUpdatedBy", P)];
const ROLE_COLS: Cols = &[("prinRoleNodeID", P), ("prinRolePrinID", P), ("prinRoleTypeID", P),
    ("prinRoleUpdatedBy", P), ("honorsOverride", P), ("honorsScope", P)];
const CHAT_COLS: Cols = &[("channelId", P), ("chatId", P), ("chatDate", P), ("userId", P),
    ("isAlert", P), ("content", P)];
const LAST_CHAT_COLS: Cols = &[("nodeID", P), ("lastChatId", P)];

/// `INSERT INTO table (cols) VALUES (...), ...` for `rows` rows with `$n` placeholders.
fn insert_sql(dialect: Dialect, table: &str, cols: Cols, rows: usize) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for (i, (_, kind)) in cols.iter().enumerate() {
            n += 1;
            let p = match kind {
                Kind::Plain => format!("${n}"),
                Kind::Guid => dialect.guid_param(n),
                Kind::Time => dialect.datetime_param(n),
            };
            sql.push_str(if i == 0 { "" } else { ", " });
            sql.push_str(&p);
        }
        sql.push(')');
    }
    sql
}

/// Buffers the rows of one table and writes them `chunk` rows per statement; the SQL text
/// of a full chunk is built once, so the driver's statement cache reuses it.
struct Inserter {
    dialect: Dialect,
    table: &'static str,
    cols: Cols,
    chunk: usize,
    full_sql: String,
    values: Vec<V>,
}

impl Inserter {
    fn new(dialect: Dialect, table: &'static str, cols: Cols, chunk: usize) -> Inserter {
        let full_sql = insert_sql(dialect, table, cols, chunk);
        Inserter { dialect, table, cols, chunk, full_sql, values: Vec::new() }
    }

    /// Adds a row; writes the buffer when it is full and returns how many rows it wrote.
    async fn push<const N: usize>(&mut self, conn: &mut AnyConnection, row: [V; N]) -> Result<u64> {
        debug_assert_eq!(N, self.cols.len());
        self.values.extend(row);
        if self.values.len() >= self.chunk * self.cols.len() {
            self.flush(conn).await
        } else {
            Ok(0)
        }
    }

    /// Writes what is buffered and returns how many rows that was.
    async fn flush(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        let rows = self.values.len() / self.cols.len();
        if rows == 0 {
            return Ok(0);
        }
        let partial;
        let sql = if rows == self.chunk {
            &self.full_sql
        } else {
            partial = insert_sql(self.dialect, self.table, self.cols, rows);
            &partial
        };
        let q = self.values.iter().fold(sqlx::query(sql), bind);
        q.execute(&mut *conn).await.with_context(|| format!("synth: writing {}", self.table))?;
        self.values.clear();
        Ok(rows as u64)
    }
}

fn bind<'q>(q: Query<'q, Any, AnyArguments<'q>>, v: &'q V) -> Query<'q, Any, AnyArguments<'q>> {
    match v {
        V::Int(x) => q.bind(*x),
        V::Bit(x) => q.bind(*x),
        V::Text(s) => q.bind(s.as_str()),
        V::NullInt => q.bind(None::<i64>),
        V::NullBit => q.bind(None::<i32>),
        V::NullText => q.bind(None::<String>),
    }
}

/// Principal ids: 1 the system user, 2 the domain, then OUs, groups and users.
#[derive(Debug, Clone)]
struct Ids {
    ous: u64,
    groups: u64,
    users: u64,
}

impl Ids {
    fn new(opts: &SynthOptions) -> Ids {
        Ids { ous: 3 + (opts.groups / 25).min(9), groups: opts.groups, users: opts.users }
    }
    fn ou(&self, i: u64) -> i64 {
        3 + i as i64
    }
    fn group(&self, i: u64) -> i64 {
        self.ou(self.ous) + i as i64
    }
    fn user(&self, i: u64) -> i64 {
        self.group(self.groups) + i as i64
    }
    /// The first user administers the deployment (root manager, creator of nodes).
    fn admin(&self) -> i64 {
        if self.users > 0 { self.user(0) } else { SYSTEM }
    }
    /// A group, big groups more often; the domain when there are no groups.
    fn any_group(&self, rng: &mut Rng) -> i64 {
        if self.groups == 0 { DOMAIN } else { self.group(rng.skewed(self.groups)) }
    }
    /// A principal for a member list: mostly groups, some users, now and then the domain.
    fn any_member(&self, rng: &mut Rng) -> i64 {
        match rng.below(100) {
            0..=74 if self.groups > 0 => self.any_group(rng),
            0..=94 if self.users > 0 => self.user(rng.below(self.users)),
            _ => DOMAIN,
        }
    }
}

/// `lo..=hi` distinct principals from `f`, fewer if `f` keeps repeating itself
/// (duplicates would break the role table's key).
fn distinct(rng: &mut Rng, lo: u64, hi: u64, mut f: impl FnMut(&mut Rng) -> i64) -> Vec<i64> {
    let n = rng.range(lo, hi);
    let mut out = Vec::new();
    for _ in 0..n * 4 {
        let p = f(rng);
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() as u64 == n {
            break;
        }
    }
    out
}

/// One `tblPrincipal` row.
struct Prin {
    id: i64,
    ptype: i64,
    uri: String,
    name: Option<String>,
    company: Option<String>,
    email: Option<String>,
    ad_path: Option<String>,
    upn: Option<String>,
    disabled: bool,
    perms: i64,
}

impl Prin {
    fn group_like(id: i64, ptype: i64, rdn: &str, ad_path: String) -> Prin {
        let uri = format!("ma-grp://contoso.example/{}", rdn.replace(' ', "%20"));
        Prin { id, ptype, uri, name: None, company: None, email: None, ad_path: Some(ad_path),
            upn: None, disabled: false, perms: 1 }
    }

    fn row(self, rng: &mut Rng) -> [V; 17] {
        let added = T0 - 90 * DAY + rng.below(60 * DAY as u64) as i64;
        let inherit = self.ptype == 5 || self.ptype == 7;
        [V::Int(self.id), V::Text(rng.guid()), V::Text(self.uri), otext(self.name),
            otext(self.company), otext(self.email), otext(self.ad_path), otext(self.upn),
            bit(self.disabled), V::Int(self.ptype), V::Int(self.perms), bit(inherit), V::Int(SYSTEM),
            V::Int(added), V::Int(SYSTEM), V::Int(added), V::Text(VERIFIED_ON.into())]
    }
}

/// A user; about 1% are federated (no AD path, self-affiliation only), about 2% disabled.
fn user_prin(ids: &Ids, i: u64, ou: &str, rng: &mut Rng) -> Prin {
    let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
    let federated = i > 0 && rng.chance(10);
    let (domain, company) =
        if federated { ("fabrikam.example", "Fabrikam, Inc.") } else { ("contoso.example", "Contoso Ltd.") };
    let mail = format!("user{}@{domain}", i + 1);
    let ad_path = (!federated).then(|| format!("CN=user{},OU={ou},DC=contoso,DC=example", i + 1));
    Prin { id: ids.user(i), ptype: if federated { 7 } else { 5 }, uri: format!("sip:{mail}"),
        name: Some(name), company: Some(company.into()), email: Some(mail.clone()), ad_path,
        upn: (!federated).then_some(mail), disabled: i > 0 && rng.chance(20),
        perms: i64::from(!federated) }
}

/// Writes every principal and its affiliation rows (self at -1, then 1..n, domain included).
async fn write_principals(conn: &mut AnyConnection, dialect: Dialect, ids: &Ids, rng: &mut Rng) -> Result<()> {
    let mut prins = Inserter::new(dialect, "tblPrincipal", PRINCIPAL_COLS, 200);
    let mut affs = Inserter::new(dialect, "tblPrincipalAffiliations", AFFILIATION_COLS, 500);
    let aff = |p: i64, a: i64, i: i64| [V::Int(p), V::Int(a), V::Int(i), V::Int(SYSTEM)];
    let system = Prin { id: SYSTEM, ptype: 4, uri: "sip:system@groupchat.local".into(),
        name: Some("Group Chat System".into()), company: None, email: None, ad_path: None,
        upn: None, disabled: false, perms: 7 };
    prins.push(conn, system.row(rng)).await?;
    let domain = Prin::group_like(DOMAIN, 8, "contoso.example", "DC=contoso,DC=example".into());
    prins.push(conn, domain.row(rng)).await?;
    affs.push(conn, aff(DOMAIN, DOMAIN, -1)).await?;
    let containers = (0..ids.ous).map(|i| (ids.ou(i), 10, OU_NAMES[i as usize % OU_NAMES.len()], i));
    let groups = (0..ids.groups).map(|i| (ids.group(i), 9, "", i));
    for (id, ptype, ou, i) in containers.chain(groups) {
        let p = if ptype == 10 {
            Prin::group_like(id, 10, &format!("OU={ou}"), format!("OU={ou},DC=contoso,DC=example"))
        } else {
            let cn = format!("GC-{}-{}", CATEGORY_NAMES[i as usize % CATEGORY_NAMES.len()], i + 1);
            Prin::group_like(id, 9, &cn, format!("CN={cn},OU=Groups,DC=contoso,DC=example"))
        };
        prins.push(conn, p.row(rng)).await?;
        affs.push(conn, aff(id, id, -1)).await?;
        affs.push(conn, aff(id, DOMAIN, 1)).await?;
    }
    for i in 0..ids.users {
        let ou = rng.below(ids.ous);
        let p = user_prin(ids, i, OU_NAMES[ou as usize % OU_NAMES.len()], rng);
        let (id, federated) = (p.id, p.ptype == 7);
        prins.push(conn, p.row(rng)).await?;
        affs.push(conn, aff(id, id, -1)).await?;
        if federated {
            continue;
        }
        let mut list = vec![ids.ou(ou), DOMAIN];
        if ids.groups > 0 {
            list.extend(distinct(rng, 1, ids.groups.min(4), |r| ids.any_group(r)));
        }
        for (n, a) in list.into_iter().enumerate() {
            affs.push(conn, aff(id, a, n as i64 + 1)).await?;
        }
    }
    prins.flush(conn).await?;
    affs.flush(conn).await?;
    Ok(())
}

/// A node of the tree with its ACL rows, built before anything is written.
#[derive(Debug, Clone, Default)]
struct NodeSpec {
    id: i64,
    guid: String,
    parent: i64,
    depth: u32,
    is_cat: bool,
    name: String,
    desc: String,
    topic: String,
    inheritance: bool,
    scope_change: bool,
    override_member: bool,
    invite: Option<i32>,
    logged: Option<i32>,
    file_post: Option<i32>,
    disabled: bool,
    restrict_child: Option<i32>,
    behavior: i32,
    visibility: Option<i32>,
    scope_def: i64,
    role_def: i64,
    added_by: i64,
    added: i64,
    updated: i64,
    scope: Vec<i64>,
    members: Vec<i64>,
    managers: Vec<i64>,
    voiced: Vec<i64>,
}

/// `None` (inherit) mostly; an explicit 0 or 1 with probability `per_mille` / 1000.
fn opt_bit(rng: &mut Rng, per_mille: u64) -> Option<i32> {
    rng.chance(per_mille).then(|| rng.below(2) as i32)
}

/// The `i`th name of a list, numbered once the list is used up, so names stay unique.
fn numbered(names: &[&str], i: usize) -> String {
    let base = names[i % names.len()];
    if i < names.len() { base.to_string() } else { format!("{base} {}", i / names.len() + 1) }
}

/// Words (and some unicode) appended to `s` until it is at least `target` bytes long.
fn fill_words(rng: &mut Rng, s: &mut String, target: usize) {
    let mut capital = true;
    while s.trim_end().len() < target {
        let w = if rng.chance(60) { rng.pick(UNICODE_WORDS) } else { rng.pick(WORDS) };
        let at = s.len();
        s.push_str(w);
        if capital {
            if let Some(c) = s.get_mut(at..at + 1) {
                c.make_ascii_uppercase();
            }
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

/// A child of `parent` with inherited definers and defaults; callers refine it.
fn child(parent: &NodeSpec, id: i64, is_cat: bool, ids: &Ids, rng: &mut Rng) -> NodeSpec {
    let added = parent.added + rng.below(60 * DAY as u64) as i64;
    NodeSpec { id, guid: rng.guid(), parent: parent.id, depth: parent.depth + 1, is_cat, behavior: 4,
        scope_def: parent.scope_def, role_def: parent.role_def, added_by: ids.admin(), added,
        updated: added + rng.below(200 * DAY as u64) as i64, invite: opt_bit(rng, 50),
        logged: opt_bit(rng, 50), file_post: opt_bit(rng, 50), ..NodeSpec::default() }
}

fn root_node(ids: &Ids, rng: &mut Rng) -> NodeSpec {
    NodeSpec { id: 1, guid: rng.guid(), parent: 1, is_cat: true, name: "Root".into(),
        desc: "Contoso Group Chat".into(), scope_change: true, override_member: true,
        invite: Some(1), logged: Some(1), file_post: Some(1), restrict_child: Some(0), behavior: 4,
        visibility: Some(3), scope_def: 1, role_def: 1, added_by: SYSTEM, added: T0 - 60 * DAY,
        updated: T0 - 50 * DAY, members: vec![DOMAIN],
        managers: if ids.users > 0 { vec![ids.admin()] } else { vec![] }, ..NodeSpec::default() }
}

/// Category `i`: a scope on ~60% of top-level ones, narrowed on ~20% of sub-categories.
fn category_node(parent: &NodeSpec, i: usize, ids: &Ids, rng: &mut Rng) -> NodeSpec {
    let top = parent.id == 1;
    let mut n = child(parent, i as i64 + 2, true, ids, rng);
    n.name = numbered(CATEGORY_NAMES, i);
    n.desc = format!("{} discussions", n.name);
    n.scope_change = rng.chance(700);
    n.inheritance = rng.chance(100);
    n.restrict_child = opt_bit(rng, 100);
    n.visibility = [Some(2), Some(3)].get(rng.below(10) as usize).copied().flatten();
    if top && rng.chance(600) {
        let first = if rng.chance(700) { ids.any_group(rng) } else { DOMAIN };
        n.scope = vec![first];
        if ids.groups > 0 && rng.chance(300) {
            n.scope.extend(Some(ids.any_group(rng)).filter(|p| *p != first));
        }
    } else if !top && ids.groups > 0 && rng.chance(200) {
        n.scope = vec![ids.any_group(rng)];
    }
    if !n.scope.is_empty() {
        n.scope_def = n.id;
    }
    if rng.chance(if top { 500 } else { 250 }) {
        n.override_member = true;
        n.role_def = n.id;
        n.members = distinct(rng, 1, 3, |r| ids.any_member(r));
    }
    if ids.users > 0 && rng.chance(150) {
        n.managers = distinct(rng, 1, 2, |r| ids.user(r.below(ids.users)));
    }
    n
}

/// Room `j`: ~5% auditoriums with presenters, ~2% disabled, visibility 2/3/NULL.
fn room_node(parent: &NodeSpec, id: i64, j: usize, ids: &Ids, rng: &mut Rng) -> NodeSpec {
    let mut n = child(parent, id, false, ids, rng);
    n.name = numbered(ROOM_NAMES, j);
    n.desc = format!("{} room", n.name);
    if rng.chance(300) {
        let target = rng.range(20, 120) as usize;
        fill_words(rng, &mut n.topic, target);
    }
    n.behavior = if rng.chance(50) { 5 } else { 4 };
    n.visibility = [Some(3), Some(3), Some(3), Some(3), Some(2), Some(2)]
        .get(rng.below(10) as usize).copied().flatten();
    n.disabled = rng.chance(20);
    if rng.chance(250) {
        n.override_member = true;
        n.role_def = n.id;
        n.members = distinct(rng, 1, 3, |r| ids.any_member(r));
    }
    if ids.users > 0 && rng.chance(100) {
        n.managers = distinct(rng, 1, 2, |r| ids.user(r.below(ids.users)));
    }
    if n.behavior == 5 && ids.users > 0 {
        let voiced = |r: &mut Rng| if r.chance(200) { ids.any_group(r) } else { ids.user(r.below(ids.users)) };
        n.voiced = distinct(rng, 1, 3, voiced);
    }
    n
}

/// The whole tree: root, categories (parents first, at most 4 deep), then rooms.
fn build_tree(opts: &SynthOptions, ids: &Ids, rng: &mut Rng) -> Vec<NodeSpec> {
    let ncat = (opts.rooms / 8).max(3) as usize;
    let top = ncat.min(2 + ncat / 5);
    let mut nodes = vec![root_node(ids, rng)];
    for i in 0..ncat {
        let mut parent = 0;
        if i >= top {
            // Half the time a recent category, so that chains grow deep.
            let back = if rng.chance(500) { rng.skewed(i as u64) } else { rng.below(i as u64) };
            parent = i - back as usize;
            if nodes[parent].depth >= 4 {
                parent = nodes[parent].parent as usize - 1;
            }
        }
        let node = category_node(&nodes[parent], i, ids, rng);
        nodes.push(node);
    }
    for j in 0..opts.rooms as usize {
        let parent = 1 + rng.below(ncat as u64) as usize;
        let node = room_node(&nodes[parent], nodes.len() as i64 + 1, j, ids, rng);
        nodes.push(node);
    }
    nodes
}

fn node_row(n: &NodeSpec) -> [V; 25] {
    let filestore = (n.id == 1).then(|| FILESTORE.to_string());
    [V::Int(n.id), V::Text(n.guid.clone()), V::Int(n.parent), bit(n.is_cat), V::Text(n.name.clone()),
        V::Text(n.desc.clone()), V::Text(n.topic.clone()), otext(filestore), bit(n.inheritance),
        bit(n.scope_change), bit(n.override_member), obit(n.invite), obit(n.logged),
        obit(n.file_post), bit(n.disabled), obit(n.restrict_child), V::Bit(n.behavior),
        obit(n.visibility), V::Int(n.scope_def), V::Int(n.role_def), V::NullText,
        V::Int(n.added_by), V::Int(n.added), V::Int(n.added_by), V::Int(n.updated)]
}

/// Writes the nodes, their scopes and their roles (honors* copied from the role type).
async fn write_tree(conn: &mut AnyConnection, dialect: Dialect, nodes: &[NodeSpec]) -> Result<()> {
    let mut node_ins = Inserter::new(dialect, "tblNode", NODE_COLS, 200);
    let mut scopes = Inserter::new(dialect, "tblScopePrincipal", SCOPE_COLS, 500);
    let mut roles = Inserter::new(dialect, "tblPrincipalRole", ROLE_COLS, 500);
    for n in nodes {
        node_ins.push(conn, node_row(n)).await?;
        for &p in &n.scope {
            scopes.push(conn, [V::Int(n.id), V::Int(p), V::Int(n.added_by)]).await?;
        }
        let lists = [(MEMBER, &n.members, 1, 1), (MANAGER, &n.managers, 0, 0), (VOICED, &n.voiced, 0, 1)];
        for (rtype, list, honors_override, honors_scope) in lists {
            for &p in list {
                let row = [V::Int(n.id), V::Int(p), V::Int(rtype), V::Int(n.added_by),
                    V::Bit(honors_override), V::Bit(honors_scope)];
                roles.push(conn, row).await?;
            }
        }
    }
    node_ins.flush(conn).await?;
    scopes.flush(conn).await?;
    roles.flush(conn).await?;
    Ok(())
}

/// Splits `total` exactly by integer weights (largest remainder, ties to the lower index).
fn apportion(total: u64, weights: &[u128]) -> Vec<u64> {
    let sum: u128 = weights.iter().sum::<u128>().max(1);
    let t = u128::from(total);
    let mut counts: Vec<u64> = weights.iter().map(|&w| (t * w / sum) as u64).collect();
    let left = total - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(t * weights[i] % sum), i));
    for &i in order.iter().take(left as usize) {
        counts[i] += 1;
    }
    counts
}

/// Messages per room: Zipf-like (weight 1/rank over shuffled ranks, jittered); ~5% of the
/// rooms are never used. Sums to `total` exactly.
fn room_counts(total: u64, rooms: usize, rng: &mut Rng) -> Vec<u64> {
    let mut rank: Vec<u64> = (0..rooms as u64).collect();
    for i in (1..rooms).rev() {
        rank.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let weights: Vec<u128> = rank
        .iter()
        .map(|&r| if r > 0 && rng.chance(50) { 0 } else { u128::from(rng.range(50, 150)) * 1_000_000_000_000 / u128::from(r + 1) })
        .collect();
    apportion(total, &weights)
}

/// A message body: mostly short, a few KB now and then, with file links, HTML links,
/// stories and unicode; never a NUL.
fn content(rng: &mut Rng, room_guid: &str) -> String {
    let target = match rng.below(1000) {
        0..=549 => rng.range(10, 60),
        550..=899 => rng.range(60, 200),
        900..=994 => rng.range(200, 1000),
        _ => rng.range(1000, 8000),
    } as usize;
    let mut s = String::with_capacity(target + 64);
    if target >= 1000 {
        s.push_str("[STORY]");
    }
    match rng.below(1000) {
        0..=9 => {
            let (file, ext) = (rng.pick(WORDS), ["docx", "xlsx", "pdf", "png"][rng.below(4) as usize]);
            let url = format!("ma-filelink://fs.contoso.example/GroupChatFiles/{room_guid}/{}/{file}.{ext} ", rng.guid());
            s.push_str(&url);
        }
        10..=14 => {
            let w = rng.pick(WORDS);
            s.push_str(&format!("<a href=\"https://intranet.contoso.example/wiki/{w}\">{w}</a> "));
        }
        _ => {}
    }
    fill_words(rng, &mut s, target);
    s
}

/// What the history writer needs to know of a room.
struct RoomRef {
    id: i64,
    guid: String,
    added: i64,
}

/// Streams the history room by room: chatId 1.. per room, increasing chatDate, posters
/// skewed within a per-room circle of users; then `tblLastChatId`.
async fn write_chats(db: &Db, rooms: &[RoomRef], counts: &[u64], ids: &Ids, rng: &mut Rng, progress: &Progress) -> Result<()> {
    let total: u64 = counts.iter().sum();
    let bar = progress.bar("synth", total);
    let mut chats = Inserter::new(db.dialect, "tblChat", CHAT_COLS, ROWS_PER_STMT);
    let mut last = Inserter::new(db.dialect, "tblLastChatId", LAST_CHAT_COLS, 500);
    let mut tx = db.pool.begin().await?;
    let mut in_tx = 0;
    for (room, &count) in rooms.iter().zip(counts) {
        let (base, circle) = (rng.skewed(ids.users), rng.range(2, 60).min(ids.users.max(1)));
        let mut date = room.added + rng.range(DAY as u64 / 24, 30 * DAY as u64) as i64;
        let gap = (rng.range(180, 1400) * DAY as u64 / count.max(1)).max(1);
        for chat_id in 1..=count {
            date += 1 + rng.below(2 * gap) as i64;
            let user = ids.user((base + rng.skewed(circle)) % ids.users.max(1));
            let row = [V::Int(room.id), V::Int(chat_id as i64), V::Int(date), V::Int(user),
                bit(rng.chance(5)), V::Text(content(rng, &room.guid))];
            let written = chats.push(&mut tx, row).await?;
            bar.inc(written);
            in_tx += written;
            if in_tx >= ROWS_PER_TX {
                tx.commit().await?;
                tx = db.pool.begin().await?;
                in_tx = 0;
            }
        }
        if count > 0 {
            last.push(&mut tx, [V::Int(room.id), V::Int(count as i64)]).await?;
        }
    }
    bar.inc(chats.flush(&mut tx).await?);
    last.flush(&mut tx).await?;
    tx.commit().await?;
    bar.finish();
    Ok(())
}

/// Fills `db` (which must hold the empty legacy 2010 schema) with a synthetic deployment.
pub async fn generate(db: &Db, opts: &SynthOptions, progress: &Progress) -> Result<SynthSummary> {
    if opts.messages > 0 && (opts.rooms == 0 || opts.users == 0) {
        bail!("synth: messages need at least one room and one user");
    }
    let ids = Ids::new(opts);
    let ncat = (opts.rooms / 8).max(3);
    if ids.user(opts.users) > i64::from(i32::MAX) || opts.rooms + ncat >= i32::MAX as u64 {
        bail!("synth: too many principals or nodes for int ids");
    }
    let mut tx = db.pool.begin().await?;
    for sql in STATIC_SQL {
        sqlx::query(sql).execute(&mut *tx).await.context("synth: writing lookup tables")?;
    }
    let pool_id = Rng::new(opts.seed, 1).guid();
    let version = format!("INSERT INTO tblVersion (versionId, versionedOn, description, poolId) \
        VALUES (1, '2010-11-15 08:00:00', 'Lync Server 2010 Group Chat', '{pool_id}')");
    sqlx::query(&version).execute(&mut *tx).await.context("synth: writing tblVersion")?;
    write_principals(&mut tx, db.dialect, &ids, &mut Rng::new(opts.seed, 2)).await?;
    let nodes = build_tree(opts, &ids, &mut Rng::new(opts.seed, 3));
    write_tree(&mut tx, db.dialect, &nodes).await?;
    tx.commit().await?;
    let rooms: Vec<RoomRef> = nodes
        .into_iter()
        .filter(|n| !n.is_cat)
        .map(|n| RoomRef { id: n.id, guid: n.guid, added: n.added })
        .collect();
    let mut rng = Rng::new(opts.seed, 4);
    let counts = room_counts(opts.messages, rooms.len(), &mut rng);
    write_chats(db, &rooms, &counts, &ids, &mut rng, progress).await?;
    Ok(SynthSummary { users: opts.users, groups: opts.groups, categories: ncat, rooms: opts.rooms,
        messages: opts.messages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rooms: u64) -> SynthOptions {
        SynthOptions { users: 200, groups: 30, rooms, messages: 1000, seed: 7 }
    }

    #[test]
    fn splitmix_matches_the_reference_stream_and_is_deterministic() {
        assert_eq!(Rng(0).next(), 0xE220_A839_7B1D_CDAF);
        let (mut a, mut b) = (Rng::new(42, 3), Rng::new(42, 3));
        assert!((0..100).all(|_| a.next() == b.next()));
        assert_ne!(Rng::new(42, 3).next(), Rng::new(42, 4).next());
    }

    #[test]
    fn guids_are_lowercase_8_4_4_4_12() {
        let mut rng = Rng::new(1, 1);
        for _ in 0..100 {
            let g = rng.guid();
            let lens: Vec<usize> = g.split('-').map(str::len).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{g}");
            assert!(g.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        }
    }

    #[test]
    fn room_counts_sum_exactly_and_are_skewed() {
        for (total, rooms) in [(0, 5), (1, 1), (3, 10), (1000, 7), (1_000_003, 1000), (10_000_000, 33)] {
            let c = room_counts(total, rooms, &mut Rng::new(9, 4));
            assert_eq!((c.len(), c.iter().sum::<u64>()), (rooms, total));
        }
        let c = room_counts(1_000_000, 1000, &mut Rng::new(9, 4));
        assert!(*c.iter().max().unwrap() > 50_000, "the largest room should be big");
        assert!(c.iter().filter(|&&n| n < 500).count() > 500, "most rooms should be small");
    }

    #[test]
    fn content_has_no_nul_and_a_sane_length() {
        let mut rng = Rng::new(3, 4);
        for _ in 0..20_000 {
            let s = content(&mut rng, "00000000-0000-4000-8000-000000000000");
            assert!(s.len() >= 10 && s.len() < 9000 && !s.contains('\0'), "{s:?}");
        }
    }

    #[test]
    fn tree_definers_follow_the_tree() {
        let ids = Ids::new(&opts(400));
        let nodes = build_tree(&opts(400), &ids, &mut Rng::new(7, 3));
        assert_eq!((nodes[0].id, nodes[0].parent, nodes[0].scope_def, nodes[0].role_def), (1, 1, 1, 1));
        assert_eq!(nodes.iter().filter(|n| !n.is_cat).count(), 400);
        for n in &nodes[1..] {
            let p = &nodes[n.parent as usize - 1];
            assert!(p.is_cat && p.id < n.id && n.depth <= 5);
            assert_eq!(n.scope_def, if n.scope.is_empty() { p.scope_def } else { n.id });
            assert_eq!(n.role_def, if n.override_member { n.id } else { p.role_def });
        }
        assert!(nodes.iter().any(|n| n.depth == 4 && n.is_cat));
        assert!(nodes.iter().any(|n| n.behavior == 5 && !n.voiced.is_empty()));
    }

    #[test]
    fn postgres_placeholders_cast_guids_and_times() {
        let sql = insert_sql(Dialect::Postgres, "tblX", &[("a", P), ("g", Guid), ("t", Time)], 2);
        assert_eq!(sql, "INSERT INTO tblX (a, g, t) VALUES ($1, CAST($2 AS uuid), CAST($3 AS timestamp)), \
             ($4, CAST($5 AS uuid), CAST($6 AS timestamp))");
    }
}
