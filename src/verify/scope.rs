//! What a verify run covers, checked before the target is opened: the wave must be one
//! the plan has (exit 2, the same message as `load`), and it must hold at least one room.
//! A verification over nothing is not a sign-off: `verify --wave Pilot` (a typo for
//! `pilot`), or a plan rebuilt without its mappings so that the wave no longer exists or
//! is empty, is refused with exit 2 instead of printing PASS over 0 rooms.

use anyhow::Result;

use crate::error::bad_input;
use crate::plan::Plan;

/// Refuses a wave the plan does not have, or one with no rooms (`None` = every wave).
pub fn require_rooms(plan: &Plan, wave: Option<&str>) -> Result<()> {
    let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
    if let Some(w) = wave {
        if !names.contains(&w) {
            return Err(bad_input(format!(
                "no wave `{w}` in the plan (waves: {})",
                names.join(", ")
            )));
        }
    }
    let rooms = plan.rooms.iter().filter(|r| wave.is_none_or(|w| r.wave == w)).count();
    if rooms == 0 {
        let which = wave.map_or("the plan".to_string(), |w| format!("wave `{w}`"));
        return Err(bad_input(format!(
            "nothing to verify: {which} has no rooms — check the wave name and that `gcmigrate plan` \
             ran with the intended --mappings (the plan report lists the rooms per wave)"
        )));
    }
    Ok(())
}
