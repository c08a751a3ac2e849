#include "backends/reference/classifier.h"

#include <algorithm>

namespace dpu::reference {

Subtable::Subtable(const FlowKey& m) : mask(m), table(0, EntryHash{&words}, EntryEq{&words}) {
  for (int i = 0; i < kKeyWords; ++i) {
    if (mask.w[i] != 0) words.idx[words.n++] = static_cast<uint8_t>(i);
  }
}

void Classifier::Resort(Chain& c) {
  std::stable_sort(c.subtables.begin(), c.subtables.end(),
                   [](const std::unique_ptr<Subtable>& a, const std::unique_ptr<Subtable>& b) {
                     return a->max_priority > b->max_priority;
                   });
}

void Classifier::Insert(ClassifierEntry* e, const FlowKey& mask) {
  Chain& c = chains_[e->chain];
  Subtable* st;
  auto it = c.by_mask.find(mask);
  bool created = false;
  if (it == c.by_mask.end()) {
    c.subtables.push_back(std::make_unique<Subtable>(mask));
    st = c.subtables.back().get();
    c.by_mask.emplace(mask, st);
    created = true;
  } else {
    st = it->second;
  }
  e->subtable = st;
  e->next = nullptr;
  // Link into the bucket in winning order; the table points at the bucket's first entry.
  auto slot = st->table.find(e->value);
  if (slot == st->table.end()) {
    st->table.insert(e);
  } else if (e->Beats(**slot)) {
    e->next = *slot;
    st->table.erase(slot);
    st->table.insert(e);
  } else {
    ClassifierEntry* p = *slot;
    while (p->next != nullptr && p->next->Beats(*e)) p = p->next;
    e->next = p->next;
    p->next = e;
  }
  ++st->priorities[e->priority];
  ++st->count;
  ++size_;
  if (created || e->priority > st->max_priority) {
    st->max_priority = std::max(st->max_priority, e->priority);
    if (created) st->max_priority = e->priority;
    Resort(c);
  }
}

void Classifier::Remove(ClassifierEntry* e) {
  Subtable* st = e->subtable;
  auto it = st->table.find(e->value);
  if (it == st->table.end()) return;
  ClassifierEntry* head = *it;
  if (head == e) {
    st->table.erase(it);
    if (e->next != nullptr) st->table.insert(e->next);
  } else {
    ClassifierEntry* p = head;
    while (p->next != nullptr && p->next != e) p = p->next;
    if (p->next == nullptr) return;
    p->next = e->next;
  }
  e->next = nullptr;
  e->subtable = nullptr;
  --size_;
  --st->count;
  auto pit = st->priorities.find(e->priority);
  if (--pit->second == 0) st->priorities.erase(pit);
  auto cit = chains_.find(e->chain);
  Chain& c = cit->second;
  if (st->count == 0) {
    c.by_mask.erase(st->mask);
    c.subtables.erase(
        std::find_if(c.subtables.begin(), c.subtables.end(),
                     [st](const std::unique_ptr<Subtable>& p) { return p.get() == st; }));
    if (c.subtables.empty()) chains_.erase(cit);
    return;
  }
  const uint16_t new_max = st->priorities.rbegin()->first;
  if (new_max != st->max_priority) {
    st->max_priority = new_max;
    Resort(c);
  }
}

void Classifier::Clear() {
  chains_.clear();
  size_ = 0;
}

const ClassifierEntry* Classifier::Lookup(uint32_t chain, const FlowKey& key) const {
  auto cit = chains_.find(chain);
  if (cit == chains_.end()) return nullptr;
  const std::vector<std::unique_ptr<Subtable>>& subs = cit->second.subtables;
  const size_t n = subs.size();
  const ClassifierEntry* best = nullptr;
  // Subtables are probed in groups: first every masked key of the group is hashed and its table
  // slot prefetched, then the tables are probed, so the cache misses of a group overlap.
  constexpr size_t kGroup = 8;
  FlowKey masked[kGroup];  // Only the words of each subtable are written and read.
  size_t hashes[kGroup];
  for (size_t base = 0; base < n; base += kGroup) {
    if (best != nullptr && subs[base]->max_priority < best->priority) break;
    const size_t m = std::min(kGroup, n - base);
    for (size_t i = 0; i < m; ++i) {
      const Subtable& st = *subs[base + i];
      for (int k = 0; k < st.words.n; ++k) {
        const int j = st.words.idx[k];
        masked[i].w[j] = key.w[j] & st.mask.w[j];
      }
      hashes[i] = st.words.Hash(masked[i]);
      st.table.prefetch(masked[i]);
    }
    for (size_t i = 0; i < m; ++i) {
      const Subtable& st = *subs[base + i];
      if (best != nullptr && st.max_priority < best->priority) return best;
      auto it = st.table.find(masked[i], hashes[i]);
      if (it == st.table.end()) continue;
      const ClassifierEntry* e = *it;
      if (best == nullptr || e->Beats(*best)) best = e;
    }
  }
  return best;
}

size_t Classifier::subtable_count() const {
  size_t n = 0;
  for (const auto& [chain, c] : chains_) n += c.subtables.size();
  return n;
}

size_t Classifier::MemoryUsage() const {
  size_t bytes = chains_.capacity() * (sizeof(uint32_t) + sizeof(Chain));
  for (const auto& [chain, c] : chains_) {
    bytes += c.by_mask.capacity() * (sizeof(FlowKey) + sizeof(void*));
    for (const auto& st : c.subtables) {
      bytes += sizeof(Subtable) + st->table.capacity() * (sizeof(void*) + 1);
      bytes += st->priorities.size() * 48;
    }
  }
  return bytes;
}

}  // namespace dpu::reference
