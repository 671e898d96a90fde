//! The legacy-endpoint steps of the last cutover (MAPPING.md §4 "Cutover"; Microsoft's
//! procedure, step 8 and after): legacy clients find Group Chat through a lookup user,
//! `ocschat@<domain>` or similar. Once the last wave of the deployment is live (or when
//! `cutover --endpoint` asks), the policy script also deletes that AD user and creates a
//! Persistent Chat endpoint with the same SIP address in the pool, in that order and only
//! when still needed, then lists what Microsoft leaves to the admin (uninstalling Group
//! Chat, deleting the legacy trusted application and its pool).

use std::fmt::Write as _;

use crate::export::powershell::quote;
use crate::plan::Plan;

/// The lookup address to move: `--endpoint`, else `sip:ocschat@<the plan's most common
/// user SIP domain>`.
pub fn lookup_address(plan: &Plan, given: Option<&str>) -> String {
    if let Some(g) = given {
        return g.to_string();
    }
    let mut count: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in &plan.principals {
        if let Some(domain) =
            p.uri.strip_prefix("sip:").and_then(|u| u.split_once('@')).map(|x| x.1)
        {
            *count.entry(domain).or_default() += 1;
        }
    }
    let domain = count.into_iter().max_by_key(|(_, n)| *n).map_or("example.com", |(d, _)| d);
    format!("sip:ocschat@{domain}")
}

/// `--endpoint`'s parser: a SIP address (`sip:user@domain.tld`) with nothing a script
/// could misread.
pub fn parse_arg(e: &str) -> Result<String, String> {
    let ok = e.strip_prefix("sip:").and_then(|a| a.split_once('@')).is_some_and(|(u, d)| {
        !u.is_empty() && d.contains('.') && !e.contains(['\'', '"', ' ', '\n', '`', '$'])
    });
    if ok {
        Ok(e.to_string())
    } else {
        Err(format!(
            "{e:?} is not a SIP address: give the legacy lookup user's, e.g. sip:ocschat@contoso.com"
        ))
    }
}

/// The script section, appended to the last cutover's policy script.
pub fn section(address: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "\n# --- The legacy endpoint: this is the deployment's last cutover ---\n\
         # Legacy Group Chat clients find the service through the lookup user {addr}.\n\
         # In Microsoft's order: delete that AD user, then create a Persistent Chat endpoint\n\
         # with the same SIP address in this pool. Each step runs only when still needed.\n\
         $LegacyLookup = {addr}\n\
         if (-not $PoolFqdn) {{ throw 'gcmigrate: pass -PoolFqdn <Persistent Chat pool FQDN> for the legacy endpoint' }}\n\
         $legacyUser = Get-ADUser -LDAPFilter ('(msRTCSIP-PrimaryUserAddress=' + $LegacyLookup + ')') -ErrorAction SilentlyContinue\n\
         if ($legacyUser) {{\n    \
         Remove-ADUser -Identity $legacyUser -Confirm:$false\n    \
         Write-Host ('gcmigrate: deleted the legacy lookup user ' + $LegacyLookup)\n}}\n\
         if (-not (Get-CsPersistentChatEndpoint | Where-Object {{ $_.SipAddress -eq $LegacyLookup }})) {{\n    \
         New-CsPersistentChatEndpoint -SipAddress $LegacyLookup -PersistentChatPoolFqdn $PoolFqdn | Out-Null\n    \
         Write-Host ('gcmigrate: created the Persistent Chat endpoint ' + $LegacyLookup)\n}}\n\
         # Then, by hand (Microsoft's steps 11 and 12): uninstall Group Chat from the legacy\n\
         # pool servers, and delete the legacy trusted application and trusted application pool\n\
         # (Remove-CsTrustedApplication, Remove-CsTrustedApplicationPool, or Topology Builder);\n\
         # in Topology Builder, make this pool each site's Default Persistent Chat pool and publish.\n",
        addr = quote(address)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanPrincipal;

    #[test]
    fn the_lookup_moves_in_microsofts_order_only_when_needed() {
        let mut plan = Plan::default();
        for uri in ["sip:a@contoso.com", "sip:b@contoso.com", "sip:c@fabrikam.com", "ma-grp://x"] {
            plan.principals.push(PlanPrincipal { uri: uri.into(), ..Default::default() });
        }
        assert_eq!(lookup_address(&plan, None), "sip:ocschat@contoso.com");
        assert_eq!(lookup_address(&plan, Some("sip:gc@x.org")), "sip:gc@x.org");
        assert!(parse_arg("sip:gc@x.org").is_ok());
        for bad in ["gc@x.org", "sip:@x.org", "sip:gc@x", "sip:g'c@x.org", "sip:g$c@x.org"] {
            assert!(parse_arg(bad).is_err(), "{bad}");
        }
        let s = section("sip:o'chat@x.org");
        assert!(s.contains("$LegacyLookup = 'sip:o''chat@x.org'"), "{s}");
        let (remove, create) =
            (s.find("Remove-ADUser").unwrap(), s.find("New-CsPersistentChatEndpoint").unwrap());
        assert!(remove < create, "the user goes first");
        assert!(
            s.contains("if ($legacyUser)") && s.contains("if (-not (Get-CsPersistentChatEndpoint")
        );
    }
}
