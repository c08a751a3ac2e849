#include "dpu/yaml_documents.h"

#include <algorithm>

namespace dpu {
namespace {

bool IsMarker(std::string_view line, std::string_view marker) {
  return line.starts_with(marker) &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

}  // namespace

std::vector<YamlDocument> SplitYamlDocuments(std::string_view stream) {
  std::vector<YamlDocument> docs(1);
  bool has_content = false;  // the current document has more than comments/directives
  bool ended = false;        // the previous line was `...`
  int line_no = 0;
  for (size_t pos = 0; pos < stream.size(); ++line_no) {
    const size_t eol = stream.find('\n', pos);
    const size_t next = eol == std::string_view::npos ? stream.size() : eol + 1;
    std::string_view line = stream.substr(pos, next - pos);
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    const bool starts = IsMarker(line, "---");
    if ((starts || ended) && has_content) {
      docs.push_back(YamlDocument{"", line_no});
      has_content = false;
    }
    ended = IsMarker(line, "...");
    docs.back().text.append(stream.substr(pos, next - pos));
    std::string_view t = line.substr(std::min(line.find_first_not_of(" \t\r"), line.size()));
    const bool body = !starts && !ended && !t.empty() && t[0] != '#' && line[0] != '%';
    docs.back().body = docs.back().body || body;
    if (starts || body) has_content = true;
    pos = next;
  }
  return docs;
}

}  // namespace dpu
