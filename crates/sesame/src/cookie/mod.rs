//! Secure cookies (work in progress).
