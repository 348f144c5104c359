//! The media a notification reaches a user by, as their consent to marketing names them
//! (Korea's Network Act asks consent per medium).

/// How a notification reaches a user, as consent is given for it: a push to their device
/// (FCM, APNs), an e-mail, or the operator's webhook (their own app or gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    Push,
    Email,
    Webhook,
}

impl Medium {
    pub const ALL: [Medium; 3] = [Medium::Push, Medium::Email, Medium::Webhook];

    pub fn name(self) -> &'static str {
        match self {
            Medium::Push => "push",
            Medium::Email => "email",
            Medium::Webhook => "webhook",
        }
    }

    pub fn parse(name: &str) -> Option<Medium> {
        Medium::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// A set of media (a bit each, so that preferences stay `Copy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Media(u8);

impl Media {
    pub fn contains(self, medium: Medium) -> bool {
        self.0 & Self::bit(medium) != 0
    }

    fn bit(medium: Medium) -> u8 {
        1 << Medium::ALL.iter().position(|m| *m == medium).expect("every medium is in ALL")
    }

    /// The media named, or the first name that is none.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Media, String> {
        names.into_iter().try_fold(Media(0), |set, name| match Medium::parse(name) {
            Some(m) => Ok(Media(set.0 | Self::bit(m))),
            None => Err(name.to_owned()),
        })
    }

    /// Their names, in [`Medium::ALL`]'s order.
    pub fn names(self) -> Vec<&'static str> {
        Medium::ALL.into_iter().filter(|m| self.contains(*m)).map(Medium::name).collect()
    }
}

impl FromIterator<Medium> for Media {
    fn from_iter<I: IntoIterator<Item = Medium>>(media: I) -> Self {
        Media(media.into_iter().fold(0, |set, m| set | Self::bit(m)))
    }
}
