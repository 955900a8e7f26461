// Package condition is DataKit's filter language (GuanceCloud cliutils `filter`), used by the
// aggregator's select rules and tail-sampling pipelines: brace groups joined by `;` (OR) of
// conditions joined by `,` (AND), with comparisons, IN / NOT_IN / MATCH / NOTMATCH lists,
// re() literals and back-quoted keys. Evaluation follows DataKit's typed, missing-key rules
// exactly, so a rule means the same here as on Dataway.
package condition
