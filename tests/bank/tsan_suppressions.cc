// ThreadSanitizer builds: Debian's libcpp-httplib.so (the HTTP client used by
// these tests) is not instrumented; synchronisation inside it is invisible to
// TSan. Suppress reports whose frames are in that library only.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() { return "race:libcpp-httplib.so\n"; }
#endif
