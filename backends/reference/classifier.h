// Tuple-space search classifier of the reference datapath.
//
// Rules are grouped by (chain, mask): each group ("subtable") is a hash table from the masked
// key to the rules with that exact masked key, kept in winning order (priority descending, then
// id ascending). A lookup masks the packet key with each subtable's mask and probes its table.
// Subtables of a chain are visited in decreasing order of the highest priority they hold, and
// the search stops as soon as no remaining subtable can beat (or tie) the best match so far.
#ifndef DPU_BACKENDS_REFERENCE_CLASSIFIER_H_
#define DPU_BACKENDS_REFERENCE_CLASSIFIER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "backends/reference/flow_key.h"
#include "dpu/flow_id.h"

namespace dpu::reference {

// What the classifier stores per rule. Owned by the caller; intrusive (the classifier links
// entries with equal masked keys through `next`).
struct ClassifierEntry {
  FlowId id;
  uint16_t priority = 0;
  uint32_t chain = 0;
  FlowKey mask;
  FlowKey value;  // Already masked.
  ClassifierEntry* next = nullptr;
  struct Subtable* subtable = nullptr;
  void* owner = nullptr;  // The caller's object holding this entry.

  // True when this entry beats `o` (higher priority, or equal priority and smaller id).
  bool Beats(const ClassifierEntry& o) const {
    return priority != o.priority ? priority > o.priority : id < o.id;
  }
};

// Hash and equality over the words a subtable's mask uses (other words are zero in every key
// stored there, and never read).
struct WordSet {
  uint8_t n = 0;
  uint8_t idx[kKeyWords] = {};
};
struct KeyHash {
  const WordSet* words;
  size_t operator()(const FlowKey& k) const {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < words->n; ++i) {
      h ^= k.w[words->idx[i]];
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    return static_cast<size_t>(h);
  }
};
struct KeyEq {
  const WordSet* words;
  bool operator()(const FlowKey& a, const FlowKey& b) const {
    for (int i = 0; i < words->n; ++i) {
      const int j = words->idx[i];
      if (a.w[j] != b.w[j]) return false;
    }
    return true;
  }
};

struct Subtable {
  explicit Subtable(const FlowKey& m);
  FlowKey mask;
  WordSet words;
  absl::flat_hash_map<FlowKey, ClassifierEntry*, KeyHash, KeyEq> table;
  std::map<uint16_t, uint32_t> priorities;  // priority -> number of entries
  uint16_t max_priority = 0;
  size_t count = 0;
};

class Classifier {
 public:
  Classifier() = default;
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Inserts `e` (not already present). Its mask/value/chain/priority/id must be set.
  void Insert(ClassifierEntry* e);
  // Removes `e` (present).
  void Remove(ClassifierEntry* e);
  // Removes everything (entries are not touched).
  void Clear();

  // The winning entry of `chain` for packet key `key`, or nullptr.
  const ClassifierEntry* Lookup(uint32_t chain, const FlowKey& key) const;

  size_t subtable_count() const;
  size_t size() const { return size_; }
  // Bytes used by the classifier's own structures (not the entries).
  size_t MemoryUsage() const;

 private:
  struct FullHash {
    size_t operator()(const FlowKey& k) const {
      uint64_t h = 0;
      for (uint64_t w : k.w) h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };
  struct Chain {
    std::vector<std::unique_ptr<Subtable>> subtables;  // sorted by max_priority descending
    absl::flat_hash_map<FlowKey, Subtable*, FullHash> by_mask;
  };
  void Resort(Chain& c);

  absl::flat_hash_map<uint32_t, Chain> chains_;
  size_t size_ = 0;
};

}  // namespace dpu::reference

#endif  // DPU_BACKENDS_REFERENCE_CLASSIFIER_H_
