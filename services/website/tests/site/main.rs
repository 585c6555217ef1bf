//! The website against the real APIs: register and server-listing started as libraries
//! in this process on a fresh DynamoDB Local table per test, the website on port 0
//! pointed at them (or at fake APIs that fail in a chosen way), and a plain HTTP client
//! (redirects not followed) or a real headless Chromium talking to it.

mod browser;
mod checkers;
mod errors;
mod helpers;
mod html;
mod pages;
mod register;
mod security;
mod showcase;
mod walk;
