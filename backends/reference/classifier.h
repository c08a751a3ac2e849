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
#include "absl/container/flat_hash_set.h"
#include "backends/reference/flow_key.h"
#include "dpu/flow_id.h"

namespace dpu::reference {

// What the classifier stores per rule. Owned by the caller; intrusive (the classifier links
// entries with equal masked keys through `next`). The fields a lookup reads come first.
struct ClassifierEntry {
  uint16_t priority = 0;
  FlowId id;
  FlowKey value;  // Already masked by the subtable's mask.
  ClassifierEntry* next = nullptr;
  struct Subtable* subtable = nullptr;
  uint32_t chain = 0;
  void* owner = nullptr;  // The caller's object holding this entry.

  // True when this entry beats `o` (higher priority, or equal priority and smaller id).
  bool Beats(const ClassifierEntry& o) const {
    return priority != o.priority ? priority > o.priority : id < o.id;
  }
};

// The words a subtable's mask uses; hashing and comparing read only those (other words are zero
// in every key stored there).
struct WordSet {
  uint8_t n = 0;
  uint8_t idx[kKeyWords] = {};

  size_t Hash(const FlowKey& k) const {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < n; ++i) {
      h ^= k.w[idx[i]];
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    return static_cast<size_t>(h);
  }
  bool Equal(const FlowKey& a, const FlowKey& b) const {
    for (int i = 0; i < n; ++i) {
      if (a.w[idx[i]] != b.w[idx[i]]) return false;
    }
    return true;
  }
};

// The hash table of a subtable holds only pointers to the first entry of each bucket (8 bytes a
// slot, so the tables of 100 K rules stay cache-resident); lookups probe it with a FlowKey.
struct EntryHash {
  using is_transparent = void;
  const WordSet* words;
  size_t operator()(const ClassifierEntry* e) const { return words->Hash(e->value); }
  size_t operator()(const FlowKey& k) const { return words->Hash(k); }
};
struct EntryEq {
  using is_transparent = void;
  const WordSet* words;
  bool operator()(const ClassifierEntry* a, const ClassifierEntry* b) const {
    return words->Equal(a->value, b->value);
  }
  bool operator()(const ClassifierEntry* a, const FlowKey& b) const {
    return words->Equal(a->value, b);
  }
  bool operator()(const FlowKey& a, const ClassifierEntry* b) const {
    return words->Equal(a, b->value);
  }
};

struct Subtable {
  explicit Subtable(const FlowKey& m);
  FlowKey mask;
  WordSet words;
  absl::flat_hash_set<ClassifierEntry*, EntryHash, EntryEq> table;
  std::map<uint16_t, uint32_t> priorities;  // priority -> number of entries
  uint16_t max_priority = 0;
  size_t count = 0;
};

class Classifier {
 public:
  Classifier() = default;
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Inserts `e` (not already present) under `mask`. Its value (masked), chain, priority and id
  // must be set.
  void Insert(ClassifierEntry* e, const FlowKey& mask);
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
