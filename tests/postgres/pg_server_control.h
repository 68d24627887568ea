// ServerControl: stops, crashes and starts the test PostgreSQL server through
// the control script of scripts/with-postgres (ESTORIA_TEST_PG_CTL), for the
// server-restart tests of tests/postgres and tests/projection. Not thread-safe:
// one test thread drives it.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>

namespace estoria::testing {

class ServerControl {
 public:
  explicit ServerControl(std::string script) : script_(std::move(script)) {}
  // Starts the server again if the test stopped it and did not start it.
  ~ServerControl() {
    if (stopped_) Run("start");
  }
  ServerControl(const ServerControl&) = delete;
  ServerControl& operator=(const ServerControl&) = delete;

  // verb: stop (fast shutdown), crash (immediate stop), start or restart.
  // True when the script succeeded.
  bool Run(const std::string& verb) {
    int rc = std::system((script_ + " " + verb + " >/dev/null 2>&1").c_str());
    if (rc == 0) stopped_ = verb == "stop" || verb == "crash";
    return rc == 0;
  }

 private:
  std::string script_;
  bool stopped_ = false;
};

}  // namespace estoria::testing
