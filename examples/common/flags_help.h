// Help for the example programs whose flags are Abseil flags (dpu-agent, dpu-operator,
// dpu-node-imaged). Debian's Abseil (20220623) answers --help with "No flags matched." unless the
// flags live in a file named after the program, and exits 1 for every help request; a user
// asking for help deserves the flags and exit status 0. Header-only, so each program stays one
// file plus the public API.
#ifndef DPU_EXAMPLES_COMMON_FLAGS_HELP_H_
#define DPU_EXAMPLES_COMMON_FLAGS_HELP_H_

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "dpu/version.h"

namespace dpu_examples {

namespace flags_help_internal {

inline std::string Quoted(const absl::CommandLineFlag& flag, const std::string& value) {
  return flag.IsOfType<std::string>() ? absl::StrCat("\"", value, "\"") : value;
}

// Prints the usage message and every flag accepted by `keep` (sorted by name), then exits 0.
template <typename Keep>
[[noreturn]] void PrintAndExit(absl::string_view usage, Keep keep) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && keep(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::cout << "Usage: " << usage << "\n\nFlags (--name=value or --name value";
  std::cout << (flags.empty() ? ")" : "; booleans also --name / --noname):") << "\n";
  for (const auto* flag : flags) {
    std::cout << "  --" << flag->Name() << (flag->IsOfType<bool>() ? "" : "=VALUE")
              << "   (default: " << Quoted(*flag, flag->DefaultValue()) << ")\n      "
              << flag->Help() << "\n";
  }
  if (flags.empty()) std::cout << "  (none matched)\n";
  std::cout << "\n--helpfull lists Abseil's own flags too (--flagfile, --fromenv, ...); "
               "--version prints the version.\n";
  std::cout.flush();
  std::exit(0);
}

}  // namespace flags_help_internal

// Call first in main(), before absl::ParseCommandLine, with the usage line and __FILE__ of the
// file that defines the program's flags. Sets the usage message and --version's text, and
// answers --help, -h, --helpshort (the program's flags), --helpfull (every flag) and
// --help=SUBSTRING (flags whose name contains it) itself: the flags with their help text and
// defaults on stdout, exit status 0. Anything after "--" is not looked at.
inline void InitFlagsHelp(int argc, char** argv, absl::string_view program, absl::string_view usage,
                          const char* flags_file) {
  absl::SetProgramUsageMessage(usage);
  const std::string file = flags_file;
  absl::FlagsUsageConfig config;
  auto ours = [file](absl::string_view f) { return f == file; };
  config.contains_help_flags = ours;
  config.contains_helpshort_flags = ours;
  config.contains_helppackage_flags = ours;
  config.normalize_filename = [](absl::string_view f) { return std::string(f); };
  const std::string version = absl::StrCat(program, " (libdpu ", DPU_VERSION_STRING, ")\n");
  config.version_string = [version] { return version; };
  absl::SetFlagsUsageConfig(config);

  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "--")) absl::ConsumePrefix(&name, "-");
    if (name == "help" || name == "h" || name == "helpshort" || name == "helppackage") {
      flags_help_internal::PrintAndExit(
          usage, [&file](const absl::CommandLineFlag& f) { return f.Filename() == file; });
    }
    if (name == "helpfull") {
      flags_help_internal::PrintAndExit(usage, [](const absl::CommandLineFlag&) { return true; });
    }
    if (absl::ConsumePrefix(&name, "help=")) {
      const std::string sub(name);
      flags_help_internal::PrintAndExit(usage, [&sub](const absl::CommandLineFlag& f) {
        return absl::StrContains(f.Name(), sub);
      });
    }
  }
}

}  // namespace dpu_examples

#endif  // DPU_EXAMPLES_COMMON_FLAGS_HELP_H_
