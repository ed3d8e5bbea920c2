//! Work documents: parsing every problem at once, canonical rendering,
//! JSON intake, and the round-trip property.
