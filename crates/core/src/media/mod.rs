//! Content insights: every post, reel and story of a connected account, and
//! stories' final numbers from Meta's `story_insights` webhook.

pub mod webhook;
