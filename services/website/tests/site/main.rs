//! The website against the real APIs: register and server-listing started as libraries
//! in this process on a fresh DynamoDB Local table per test, the website on port 0
//! pointed at them, and a plain HTTP client (redirects not followed) or a real headless
//! Chromium talking to it.

mod browser;
mod errors;
mod helpers;
mod pages;
mod register;
mod security;
