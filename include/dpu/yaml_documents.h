#ifndef DPU_YAML_DOCUMENTS_H_
#define DPU_YAML_DOCUMENTS_H_

/// @file
/// @brief Splitting a multi-document YAML stream (manifests) into its documents.

#include <string>
#include <string_view>
#include <vector>

namespace dpu {

/// One document of a `---`-separated YAML stream.
struct YamlDocument {
  std::string text;    ///< The document's lines as they stand in the stream, markers included.
  int first_line = 0;  ///< Lines of the stream before this document (add it to a 0-based line
                       ///< of @ref text to get the stream's line).
  bool body = false;   ///< True when a line is other than markers, comments, directives and
                       ///< blanks, so a parser that returns nothing for it met malformed text.
};

/// Splits @p stream into its documents so that each can be parsed alone (with `YAML::Load()`),
/// as libdpu's own manifest readers (ParseChainManifests() and the operator's) do.
///
/// Why: yaml-cpp 0.7's `YAML::LoadAll()` loops forever, allocating without bound, on some
/// malformed streams (found by the chain manifest fuzzer); parsing one document at a time does
/// not. In YAML 1.2 a line that starts with `---` or `...` followed by a blank or the end of the
/// line is always a document marker, never content, so the split is exact: `---` starts a
/// document, `...` ends one. Comments, blank lines and directives before a `---` stay with the
/// document it starts.
///
/// Promises: the concatenation of the documents' texts is @p stream; the result has at least
/// one element (an empty stream is one empty document); never reads past @p stream.
std::vector<YamlDocument> SplitYamlDocuments(std::string_view stream);

}  // namespace dpu

#endif  // DPU_YAML_DOCUMENTS_H_
