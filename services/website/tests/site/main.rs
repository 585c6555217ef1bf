//! The website against the real APIs: register and server-listing started as libraries
//! in this process on a fresh DynamoDB Local table per test, the website on port 0
//! pointed at them (or at fake APIs that fail in a chosen way), and a plain HTTP client
//! (redirects not followed) talking to it. (The browser tests come back with the next
//! commit, on the new helpers.)

mod errors;
mod helpers;
mod pages;
mod register;
mod security;
