//! Pure BGP-4 message codec.
