// Uses the installed package: opens a memory store by URI, appends, reads back.
#include <cstdio>

#include "estoria/memory/memory_event_store.h"
#include "estoria/open.h"

int main() {
  auto store = estoria::OpenEventStore("memory:");
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    return 1;
  }
  estoria::TypeId stream = estoria::TypeId::New("account").value();
  std::vector<estoria::WritableEvent> events(1);
  events[0].type = "opened";
  events[0].data = R"({"owner":"ana"})";
  auto appended = (*store)->AppendStream(stream, events, estoria::AppendOptions::MustNotExist());
  if (!appended) return 1;
  auto it = (*store)->ReadStream(stream);
  if (!it) return 1;
  auto all = estoria::Collect(**it);
  if (!all || all->size() != 1 || (*all)[0].data != events[0].data) return 1;
  std::printf("consumer: appended and read back %s v%lld\n", stream.ToString().c_str(),
              static_cast<long long>((*all)[0].stream_version));
  return 0;
}
