//! The proposal types: stable wire names that clients send back, the learning loop learns
//! per type, and the store keeps arms by.

/// The proposal types. Their wire names are stable: clients and the learning loop key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProposalKind {
    HighStake,
    MidStake,
    EarnMore,
    RiskyPlay,
    SafePlay,
    CorporateEngage,
    CorporateMission,
    NewContent,
    BreakReminder,
    LimitReminder,
    VipReward,
}

impl ProposalKind {
    pub const ALL: [ProposalKind; 11] = [
        ProposalKind::HighStake,
        ProposalKind::MidStake,
        ProposalKind::EarnMore,
        ProposalKind::RiskyPlay,
        ProposalKind::SafePlay,
        ProposalKind::CorporateEngage,
        ProposalKind::CorporateMission,
        ProposalKind::NewContent,
        ProposalKind::BreakReminder,
        ProposalKind::LimitReminder,
        ProposalKind::VipReward,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::HighStake => "HIGH_STAKE",
            ProposalKind::MidStake => "MID_STAKE",
            ProposalKind::EarnMore => "EARN_MORE",
            ProposalKind::RiskyPlay => "RISKY_PLAY",
            ProposalKind::SafePlay => "SAFE_PLAY",
            ProposalKind::CorporateEngage => "CORPORATE_ENGAGE",
            ProposalKind::CorporateMission => "CORPORATE_MISSION",
            ProposalKind::NewContent => "NEW_CONTENT",
            ProposalKind::BreakReminder => "BREAK_REMINDER",
            ProposalKind::LimitReminder => "LIMIT_REMINDER",
            ProposalKind::VipReward => "VIP_REWARD",
        }
    }

    pub fn parse(name: &str) -> Option<ProposalKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Kinds that invite more play or spending: to stake more (a VIP table too), to collect
    /// tokens toward a stake, to play a game, to unlock content. Never under protection.
    pub fn invites_play(self) -> bool {
        matches!(
            self,
            ProposalKind::HighStake
                | ProposalKind::MidStake
                | ProposalKind::EarnMore
                | ProposalKind::RiskyPlay
                | ProposalKind::SafePlay
                | ProposalKind::NewContent
                | ProposalKind::VipReward
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_wire_name() {
        for kind in ProposalKind::ALL {
            assert_eq!(ProposalKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ProposalKind::parse("mid_stake"), None, "wire names are exact");
    }
}
