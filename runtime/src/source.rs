//! Which front door an event came through: decided by `event`, read by `response` (the
//! response shape) and by `error` (a bad body is answered in its source's shape). A leaf, so
//! that neither of those depends on the parser.

/// Where the event came from; decides the response shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API (payload format 1.0).
    RestV1,
    /// HTTP API with payload format 1.0.
    HttpV1,
    /// HTTP API with payload format 2.0.
    HttpV2,
    /// Lambda Function URL (payload 2.0 shape, path not decoded).
    FunctionUrl,
    /// Application Load Balancer; `multi_value` when the target group has multi-value headers on.
    Alb {
        /// The request came with `multiValueHeaders`, so the response must use them too.
        multi_value: bool,
    },
    /// VPC Lattice, event structure version 1 (snake_case keys).
    LatticeV1,
    /// VPC Lattice, event structure version 2.
    LatticeV2,
}

impl Source {
    /// A human name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::RestV1 => "API Gateway REST",
            Self::HttpV1 => "HTTP API (payload 1.0)",
            Self::HttpV2 => "HTTP API (payload 2.0)",
            Self::FunctionUrl => "Function URL",
            Self::Alb { multi_value: false } => "ALB",
            Self::Alb { multi_value: true } => "ALB (multi-value headers)",
            Self::LatticeV1 => "VPC Lattice v1",
            Self::LatticeV2 => "VPC Lattice v2",
        }
    }
}
