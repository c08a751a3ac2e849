// Help for the example programs whose flags are Abseil flags (dpu-agent, dpu-operator,
// dpu-node-imaged). Debian's Abseil (20220623) answers --help with "No flags matched." unless the
// flags live in a file named after the program, and exits 1 for every help request; a user
// asking for help deserves the flags and exit status 0. It also exits 1 for a bad flag, where
// these programs (like dpuctl) promise 2 for every command-line error: InitFlagsHelp checks the
// flags first. Header-only, so each program stays one file plus the public API.
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
#include "absl/strings/str_split.h"
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

// A command-line error: the message on stderr, then exit status 2 (as dpuctl and the programs'
// own checks of flag values).
[[noreturn]] inline void UsageExit(absl::string_view program, absl::string_view message) {
  std::cerr << program << ": " << message << " (" << program << " --help lists the flags)\n";
  std::exit(2);
}

// What absl::ParseCommandLine would refuse with exit status 1, refused here with 2: an unknown
// flag (unless named by --undefok), a flag without its value, a value the flag cannot take.
// Values are parsed into the flags (ParseCommandLine then sets the same values again). Flags
// read from --flagfile/--fromenv are left to Abseil.
inline void CheckFlags(int argc, char** argv, absl::string_view program) {
  std::vector<std::string> undefok;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--") break;
    if (absl::ConsumePrefix(&a, "--undefok=") || absl::ConsumePrefix(&a, "-undefok=")) {
      for (absl::string_view n : absl::StrSplit(a, ',', absl::SkipEmpty())) {
        undefok.emplace_back(n);
      }
    }
  }
  auto undefined_ok = [&](absl::string_view n) {
    return std::find(undefok.begin(), undefok.end(), n) != undefok.end();
  };
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // A positional argument ("-" included).
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    const bool has_value = eq != absl::string_view::npos;
    // Abseil's usage flags are handled by name, outside the flag registry.
    if (name == "version" || name == "only_check_args" || name == "helpfull" ||
        name == "helpshort" || name == "helppackage") {
      continue;
    }
    if (name == "helpon" || name == "helpmatch") {
      if (!has_value) ++i;  // --helpon VALUE.
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no")) {  // --noNAME for a boolean NAME.
      absl::CommandLineFlag* positive = absl::FindCommandLineFlag(name.substr(2));
      if (positive != nullptr && positive->IsOfType<bool>()) {
        if (has_value) UsageExit(program, absl::StrCat("flag --", name, " takes no value"));
        continue;
      }
    }
    if (flag == nullptr || flag->IsRetired()) {
      if (undefined_ok(name)) continue;
      UsageExit(program, absl::StrCat("unknown flag --", name));
    }
    std::string value;
    if (has_value) {
      value = std::string(body.substr(eq + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;  // --NAME sets a boolean.
    } else if (i + 1 < argc) {
      value = argv[++i];  // --NAME VALUE.
    } else {
      UsageExit(program, absl::StrCat("flag --", name, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      UsageExit(program, absl::StrCat("flag --", name, ": invalid value \"", value, "\"",
                                      error.empty() ? "" : ": ", error));
    }
  }
}

}  // namespace flags_help_internal

// Call first in main(), before absl::ParseCommandLine, with the usage line and __FILE__ of the
// file that defines the program's flags. Sets the usage message and --version's text, and
// answers --help, -h, --helpshort (the program's flags), --helpfull (every flag) and
// --help=SUBSTRING (flags whose name contains it) itself: the flags with their help text and
// defaults on stdout, exit status 0. Then refuses an unknown flag, a missing or invalid value with
// a message naming the flag and exit status 2 (Abseil would exit 1). Anything after "--" is not
// looked at.
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
  flags_help_internal::CheckFlags(argc, argv, program);
}

}  // namespace dpu_examples

#endif  // DPU_EXAMPLES_COMMON_FLAGS_HELP_H_
