//! The sandbox over real HTTP, as the app's Graph client sees it.

mod batch;
mod faults;
mod graph;
mod helpers;
mod insights;
mod instagram;
mod instagram_media;
mod login;
mod media;
mod tokens;
