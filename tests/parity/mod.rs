//! Parity with the reference's operator surface, one module per part:
//! `upgrade`, skills moving in and out of a workspace, the reference's
//! command names, running as a service, and the agent skills.

mod skills;
mod upgrade;
