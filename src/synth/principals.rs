//! The principals of the synthetic deployment: the id layout that every later phase draws
//! from, and the domain, OUs, groups and users written with their full affiliation lists
//! (the lists readers expect to be transitive already).

use anyhow::Result;

use super::batch::{nul, q, Batch};
use super::rng::Rng;
use super::text::{item, CATEGORIES, FIRST, LAST, OUS};
use super::{SynthOptions, DAY, T0};

const SYSTEM: u64 = 1;
pub(super) const DOMAIN: u64 = 2;
const DC: &str = "DC=contoso,DC=example";
const PRINCIPAL_COLS: &str = "prinID, prinGuid, prinUri, prinName, prinCompanyName, prinEmail, \
    prinADPath, prinADUserPrincipalName, prinDisabled, prinTypeID, prinAllowedPermSet, \
    prinUseInheritedPerms, prinAddedBy, prinAddedOn, prinUpdatedBy, prinUpdatedOn, prinVerifiedOn";

/// Principal ids: 1 the system user, 2 the domain, then OUs, groups and users.
#[derive(Debug, Clone)]
pub(super) struct Ids {
    ous: u64,
    pub(super) groups: u64,
    pub(super) users: u64,
}

impl Ids {
    pub(super) fn new(opts: &SynthOptions) -> Ids {
        Ids { ous: 3 + (opts.groups / 25).min(9), groups: opts.groups, users: opts.users }
    }
    fn group(&self, i: u64) -> u64 {
        3 + self.ous + i
    }
    pub(super) fn user(&self, i: u64) -> u64 {
        3 + self.ous + self.groups + i
    }
    /// The first user administers the deployment (root manager, creator of the nodes).
    pub(super) fn admin(&self) -> u64 {
        if self.users > 0 {
            self.user(0)
        } else {
            SYSTEM
        }
    }
    /// A group, big ones more often; the domain when there are no groups.
    pub(super) fn any_group(&self, rng: &mut Rng) -> u64 {
        if self.groups == 0 {
            DOMAIN
        } else {
            self.group(rng.skewed(self.groups))
        }
    }
    pub(super) fn any_user(&self, rng: &mut Rng) -> u64 {
        self.user(rng.below(self.users))
    }
    /// A principal for a member list: mostly groups, some users, now and then the domain.
    pub(super) fn any_member(&self, rng: &mut Rng) -> u64 {
        match rng.below(100) {
            0..=74 if self.groups > 0 => self.any_group(rng),
            0..=94 if self.users > 0 => self.any_user(rng),
            _ => DOMAIN,
        }
    }
}

/// `lo..=hi` distinct principals from `f`, fewer if `f` keeps repeating itself
/// (a duplicate would break the role table's key).
pub(super) fn distinct(
    rng: &mut Rng,
    lo: u64,
    hi: u64,
    mut f: impl FnMut(&mut Rng) -> u64,
) -> Vec<u64> {
    let n = rng.range(lo, hi) as usize;
    let mut out = Vec::new();
    for _ in 0..n * 4 {
        let p = f(rng);
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// The varying part of a `tblPrincipal` row (every type but the system user).
#[derive(Debug, Default)]
struct Prin {
    id: u64,
    ptype: u64,
    uri: String,
    dn: Option<String>,
    name: Option<String>,
    mail: Option<String>,
    disabled: bool,
}

/// Adds `p` to `b`, with a fresh GUID and creation time.
fn add_principal(b: &mut Batch, p: &Prin, rng: &mut Rng) {
    let (id, ptype, guid, uri) = (p.id, p.ptype, rng.guid(), q(&p.uri));
    let added = T0 - 90 * DAY + rng.below(60 * DAY);
    let [name, mail, dn] = [&p.name, &p.mail, &p.dn].map(|v| nul(v.as_deref().map(q)));
    let upn = nul(p.mail.as_deref().filter(|_| ptype == 5).map(q));
    let company = match ptype {
        5 => "'Contoso Ltd.'",
        7 => "'Fabrikam, Inc.'",
        _ => "NULL",
    };
    let (disabled, perms, inherit) =
        (u8::from(p.disabled), u8::from(ptype != 7), u8::from(p.mail.is_some()));
    b.add(format_args!(
        "({id}, '{guid}', {uri}, {name}, {company}, {mail}, {dn}, {upn}, {disabled}, {ptype}, \
         {perms}, {inherit}, 1, {added}, 1, {added}, '2011-06-30 02:00:00')"
    ));
}

/// Writes the domain, OUs, groups and users with their affiliations: self at index -1,
/// then 1..n for the OU, the domain and 1–4 groups. Federated users have only the self row.
pub(super) async fn write_principals(
    conn: &mut crate::db::tx::Tx,
    ids: &Ids,
    rng: &mut Rng,
) -> Result<()> {
    let mut prins = Batch::new("tblPrincipal", PRINCIPAL_COLS);
    let mut affs =
        Batch::new("tblPrincipalAffiliations", "principalID, affiliationID, \"index\", updatedBy");
    // The domain, the OUs and the groups.
    for id in DOMAIN..ids.group(ids.groups) {
        let (ptype, rdn) = match id {
            DOMAIN => (8, String::new()),
            _ if id < ids.group(0) => (10, format!("OU={}", item(OUS, id - 3))),
            _ => (9, format!("CN=GC-{}-{}", item(CATEGORIES, id), id - ids.group(0) + 1)),
        };
        let dn = match ptype {
            8 => DC.to_string(),
            9 => format!("{rdn},OU=Groups,{DC}"),
            _ => format!("{rdn},{DC}"),
        };
        let name = if ptype == 8 { "contoso.example" } else { rdn.trim_start_matches("CN=") };
        let uri = format!("ma-grp://contoso.example/{}", name.replace(' ', "%20"));
        add_principal(&mut prins, &Prin { id, ptype, uri, dn: Some(dn), ..Prin::default() }, rng);
        affs.add(format_args!("({id}, {id}, -1, 1)"));
        if id != DOMAIN {
            affs.add(format_args!("({id}, {DOMAIN}, 1, 1)"));
        }
    }
    for i in 0..ids.users {
        let (id, ou, federated) = (ids.user(i), rng.below(ids.ous), i > 0 && rng.chance(10));
        let mail = format!(
            "user{}@{}",
            i + 1,
            if federated { "fabrikam.example" } else { "contoso.example" }
        );
        let p = Prin {
            id,
            ptype: if federated { 7 } else { 5 },
            uri: format!("sip:{mail}"),
            dn: (!federated).then(|| format!("CN=user{},OU={},{DC}", i + 1, item(OUS, ou))),
            name: Some(format!("{} {}", item(FIRST, rng.next()), item(LAST, rng.next()))),
            mail: Some(mail),
            disabled: i > 0 && rng.chance(20),
        };
        add_principal(&mut prins, &p, rng);
        affs.add(format_args!("({id}, {id}, -1, 1)"));
        if !federated {
            let mut list = vec![3 + ou, DOMAIN];
            if ids.groups > 0 {
                list.extend(distinct(rng, 1, ids.groups.min(4), |r| ids.any_group(r)));
            }
            for (n, a) in list.into_iter().enumerate() {
                affs.add(format_args!("({id}, {a}, {}, 1)", n + 1));
            }
        }
        prins.flush_full(conn).await?;
        affs.flush_full(conn).await?;
    }
    prins.flush(conn).await?;
    affs.flush(conn).await?;
    Ok(())
}
