# report.mk - dann-report, the interactive report page.
#
# The page's HTML, CSS and JavaScript live in lib/draw/report_page.html, kept as a page so they can
# be read and edited as one; it is compiled into lib/draw/report.c as a C string (a header made
# here with sed: each line quoted, backslashes and quotes escaped).
# One header for every build of lib/ (this Makefile's, the fuzz harnesses' and valgrind's).
REPORT_PAGE_H := build/gen/report_page.h
$(REPORT_PAGE_H): lib/draw/report_page.html
	@mkdir -p $(@D)
	{ echo 'static const char report_page[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@.tmp
	mv $@.tmp $@
$(BUILD)/lib/draw/report.o: $(REPORT_PAGE_H)
$(BUILD)/lib/draw/report.o: ALL_CFLAGS += -I$(dir $(REPORT_PAGE_H))
ifneq ($(FUZZ_DIR),)
$(FUZZ_DIR)/lib/draw/report.o: $(REPORT_PAGE_H)
$(FUZZ_DIR)/lib/draw/report.o: FUZZ_CFLAGS += -I$(dir $(REPORT_PAGE_H))
endif
ifneq ($(VG_DIR),)
$(VG_DIR)/lib/draw/report.o: $(REPORT_PAGE_H)
$(VG_DIR)/lib/draw/report.o: VG_CFLAGS += -I$(dir $(REPORT_PAGE_H))
endif

# The browser test (tests/report-browser.bats): headless Chromium driven through WebDriver
# by Debian's Selenium (tests/report-browser.py).
APT_PKGS += chromium chromium-driver python3-selenium
# The browser checks the page's JavaScript, which the sanitizer build does not change: once, in
# the normal pass (SAN_SKIP is expanded when `make check` runs its recipe).
SAN_SKIP += tests/report-browser.bats
