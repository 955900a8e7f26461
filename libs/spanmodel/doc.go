// Package spanmodel holds the protocol-agnostic helpers every translator shares (DataKit's id
// formatting and unification, span_type derivation, source_type mapping) and the codec that
// is the only place TraceBatch is encoded.
package spanmodel
