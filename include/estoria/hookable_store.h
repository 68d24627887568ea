// estoria/hookable_store.h: HookableStore<S>, a decorator running user hooks
// around Load, Hydrate and Save of the AggregateStore it wraps.
//
//   auto hooked = estoria::HookableStore<Account>::Create(accounts);
//   hooked->AddBeforeSave([&](estoria::Aggregate<Account>& a) {
//     a.MergeEventMetadata({{"correlation_id", request.id}});
//     return estoria::Status::Ok();
//   });
//
// Hooks of one kind run in registration order; the first non-OK status stops the
// operation and is returned (an exception thrown by a hook becomes Internal).
// A before hook that fails prevents the wrapped call; an after-save hook that
// fails is reported with events_appended() set, because the events were written.
//
// Thread safety: safe for concurrent use; hooks may be added at any time (an
// operation runs the hooks registered when it started) and may be called from
// many threads at once, so they must be thread safe themselves.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "estoria/aggregate_store.h"

namespace estoria {

namespace internal {
// Runs a user hook, turning an exception into Internal naming the hook kind.
Status RunHook(std::string_view kind, const std::function<Status()>& call);
}  // namespace internal

template <typename S>
class HookableStore final : public AggregateStoreDecorator<S> {
 public:
  // Before Load: may reject (e.g. authorisation). Gets the id and options.
  using LoadHook = std::function<Status(const Uuid& id, const LoadOptions& options)>;
  // Before Hydrate.
  using HydrateHook = std::function<Status(Aggregate<S>& aggregate, const HydrateOptions& options)>;
  // After Load, after Hydrate, before Save, after Save.
  using AggregateHook = std::function<Status(Aggregate<S>& aggregate)>;

  explicit HookableStore(std::shared_ptr<AggregateStore<S>> inner)
      : AggregateStoreDecorator<S>(std::move(inner)), hooks_(std::make_shared<const Hooks>()) {}
  static std::shared_ptr<HookableStore> Create(std::shared_ptr<AggregateStore<S>> inner) {
    return std::make_shared<HookableStore>(std::move(inner));
  }

  HookableStore& AddBeforeLoad(LoadHook hook) { return Add(&Hooks::before_load, std::move(hook)); }
  HookableStore& AddAfterLoad(AggregateHook hook) { return Add(&Hooks::after_load, std::move(hook)); }
  HookableStore& AddBeforeHydrate(HydrateHook hook) { return Add(&Hooks::before_hydrate, std::move(hook)); }
  HookableStore& AddAfterHydrate(AggregateHook hook) { return Add(&Hooks::after_hydrate, std::move(hook)); }
  HookableStore& AddBeforeSave(AggregateHook hook) { return Add(&Hooks::before_save, std::move(hook)); }
  HookableStore& AddAfterSave(AggregateHook hook) { return Add(&Hooks::after_save, std::move(hook)); }

  using AggregateStore<S>::New;

  // Errors: the first failing before-load or after-load hook's, else the wrapped
  // store's (see AggregateStore::Load).
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    auto hooks = Current();
    for (const auto& h : hooks->before_load) {
      ESTORIA_RETURN_IF_ERROR(internal::RunHook("before-load hook", [&] { return h(id, options); }));
    }
    auto loaded = this->inner()->Load(id, options);
    if (!loaded) return loaded;
    for (const auto& h : hooks->after_load) {
      ESTORIA_RETURN_IF_ERROR(internal::RunHook("after-load hook", [&] { return h(*loaded); }));
    }
    return loaded;
  }

  // Errors: the first failing hook's, else the wrapped store's.
  Status Hydrate(Aggregate<S>& aggregate, const HydrateOptions& options = {}) override {
    auto hooks = Current();
    for (const auto& h : hooks->before_hydrate) {
      ESTORIA_RETURN_IF_ERROR(internal::RunHook("before-hydrate hook", [&] { return h(aggregate, options); }));
    }
    ESTORIA_RETURN_IF_ERROR(this->inner()->Hydrate(aggregate, options));
    for (const auto& h : hooks->after_hydrate) {
      ESTORIA_RETURN_IF_ERROR(internal::RunHook("after-hydrate hook", [&] { return h(aggregate); }));
    }
    return Status::Ok();
  }

  // Errors: a failing before-save hook's (nothing written), the wrapped store's,
  // or a failing after-save hook's with events_appended() set.
  Status Save(Aggregate<S>& aggregate) override {
    auto hooks = Current();
    for (const auto& h : hooks->before_save) {
      ESTORIA_RETURN_IF_ERROR(internal::RunHook("before-save hook", [&] { return h(aggregate); }));
    }
    ESTORIA_RETURN_IF_ERROR(this->inner()->Save(aggregate));
    for (const auto& h : hooks->after_save) {
      Status st = internal::RunHook("after-save hook", [&] { return h(aggregate); });
      if (!st.ok()) return st.MarkEventsAppended();
    }
    return Status::Ok();
  }

 private:
  struct Hooks {
    std::vector<LoadHook> before_load;
    std::vector<AggregateHook> after_load;
    std::vector<HydrateHook> before_hydrate;
    std::vector<AggregateHook> after_hydrate;
    std::vector<AggregateHook> before_save;
    std::vector<AggregateHook> after_save;
  };

  template <typename H>
  HookableStore& Add(std::vector<H> Hooks::*list, H hook) {
    if (!hook) return *this;
    std::lock_guard<std::mutex> lock(mu_);
    auto next = std::make_shared<Hooks>(*hooks_);
    ((*next).*list).push_back(std::move(hook));
    hooks_ = std::move(next);
    return *this;
  }
  std::shared_ptr<const Hooks> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hooks_;
  }

  mutable std::mutex mu_;
  std::shared_ptr<const Hooks> hooks_;  // copy-on-write
};

}  // namespace estoria
