#!/usr/bin/python3
"""Drive a dann-report page in headless Chromium through WebDriver (Debian's python3-selenium
and chromium-driver) and check what a reader does with it.

    report-browser.py PAGE.html SCREENSHOT.png [WIDTHxHEIGHT]

Checks, each printed as "ok: ..." (the first failure is printed and the exit status is 1):
no console errors; the slider (keyboard on the focused slider) and the play button change the
frame and the step shown; hovering a point shows the tooltip with its image (not blank), its
true label and its prediction at that snapshot, as the page's data says; the colour toggle
changes the colours drawn (class colours appear); the arrow keys and space work; at phone width
nothing overflows sideways; the screenshot is written and is not blank.
Exit status 3: no browser could be started (the test skips with the message)."""
import io
import os
import shutil
import sys
import tempfile
import time

from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


T0 = time.time()


def ok(msg):
    print("ok: %s (%.1f s)" % (msg, time.time() - T0))


def start(profile, w, h):
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=%d,%d" % (w, h),
              "--force-device-scale-factor=1", "--hide-scrollbars"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    return webdriver.Chrome(service=Service(drv), options=o)


def wait(d, cond, what, timeout=10):
    t = time.time()
    while time.time() - t < timeout:
        if d.execute_script("return " + cond):
            return
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def idle(d):
    wait(d, "window.dannReport && !window.dannReport.busy()", "the page to settle")


def state(d):
    return d.execute_script("return [window.dannReport.state.frame, document.getElementById('step').textContent]")


def class_colours_seen(d):
    """How many of the class colours unlike both domain colours (classes 2, 4, 6, 8, 9) cover
    at least 30 pixels of the scatter, drawn opaque or at the page's opacity over white."""
    return d.execute_script("""
const cv = document.getElementById('scatter'), g = cv.getContext('2d');
const px = g.getImageData(0, 0, cv.width, cv.height).data, pal = window.dannReport.data.palette.classes;
let seen = 0;
for (const k of [2, 4, 6, 8, 9]) {
  const c = [1, 3, 5].map((o) => parseInt(pal[k].substr(o, 2), 16));
  const b = c.map((v) => 0.75 * v + 0.25 * 255);
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    const d1 = Math.abs(px[i] - c[0]) + Math.abs(px[i + 1] - c[1]) + Math.abs(px[i + 2] - c[2]);
    const d2 = Math.abs(px[i] - b[0]) + Math.abs(px[i + 1] - b[1]) + Math.abs(px[i + 2] - b[2]);
    if (d1 < 15 || d2 < 15) n++;
  }
  if (n >= 30) seen++;
}
return seen;""")


def main():
    if len(sys.argv) < 3:
        print("usage: report-browser.py PAGE.html SCREENSHOT.png [WxH]", file=sys.stderr)
        sys.exit(2)
    page, shot = os.path.abspath(sys.argv[1]), sys.argv[2]
    w, h = (int(v) for v in (sys.argv[3] if len(sys.argv) > 3 else "1280x900").split("x"))
    profile = tempfile.mkdtemp(prefix="report-browser-")
    try:
        try:
            d = start(profile, w, h)
        except WebDriverException as e:
            print("no browser: " + str(e).splitlines()[0])
            sys.exit(3)
        try:
            run(d, page, shot, w, h)
        finally:
            d.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def run(d, page, shot, w, h):
    d.get("file://" + page)
    wait(d, "window.dannReport !== undefined", "the page's script")
    idle(d)
    D = d.execute_script("const D = window.dannReport.data; return {n: D.n, frames: D.frames, "
                         "labels: D.labels, domains: D.domains, preds: D.preds, sprite: !!D.sprite}")
    K = D["frames"]
    if K < 2:
        fail("the page has %d frames; the checks need 2 or more" % K)
    f0, s0 = state(d)
    if f0 != 0 or not s0.startswith("step "):
        fail("first view: frame %s, step text %r" % (f0, s0))
    ok("loaded: %d frames of %d points, %s" % (K, D["n"], s0))

    # the slider, from the keyboard as a reader would
    slider = d.find_element(By.ID, "slider")
    slider.click()   # focus (a click may also move it)
    d.execute_script("arguments[0].focus()", slider)
    before = state(d)
    slider.send_keys(Keys.HOME)
    slider.send_keys(Keys.ARROW_RIGHT)
    idle(d)
    f1, s1 = state(d)
    if f1 != 1 or s1 == s0 or slider.get_attribute("value") != "1":
        fail("slider: after Home, Right: frame %s, step %r (before %s)" % (f1, s1, before))
    ok("slider: frame 1, %s" % s1)

    # play: the frame advances by itself, and pause stops it
    d.find_element(By.ID, "play").click()
    wait(d, "window.dannReport.state.frame >= 2", "play to reach frame 2", timeout=15)
    d.find_element(By.ID, "play").click()
    idle(d)
    f2, s2 = state(d)
    if d.execute_script("return window.dannReport.state.playing") or f2 < 2 or s2 == s1:
        fail("play/pause: frame %s, step %r" % (f2, s2))
    time.sleep(1.8)
    if state(d)[0] != f2:
        fail("pause did not stop the frames")
    ok("play then pause: frame %d, %s" % (f2, s2))

    # keyboard on the page: right arrow, left arrow, space
    body = d.find_element(By.TAG_NAME, "body")
    d.execute_script("document.activeElement.blur()")
    ActionChains(d).send_keys(Keys.END).perform()
    idle(d)
    if state(d)[0] != K - 1:
        fail("End key: frame %s" % state(d)[0])
    ActionChains(d).send_keys(Keys.ARROW_LEFT).perform()
    idle(d)
    if state(d)[0] != K - 2:
        fail("Left arrow: frame %s" % state(d)[0])
    ActionChains(d).send_keys(Keys.ARROW_RIGHT).perform()
    idle(d)
    ActionChains(d).send_keys(Keys.SPACE).perform()
    if not d.execute_script("return window.dannReport.state.playing"):
        fail("space did not start playing")
    ActionChains(d).send_keys(Keys.SPACE).perform()
    if d.execute_script("return window.dannReport.state.playing"):
        fail("space did not pause")
    d.execute_script("window.dannReport.state.playing = false")
    ActionChains(d).send_keys(Keys.END).perform()
    idle(d)
    ok("keys: End, Left, Right, space")
    del body

    # colour toggle: the class colours appear on the canvas only in class mode
    dom_seen = class_colours_seen(d)
    d.find_element(By.ID, "color-class").click()
    cls_seen = class_colours_seen(d)
    pressed = d.find_element(By.ID, "color-class").get_attribute("aria-pressed")
    if dom_seen > 1 or cls_seen < 3 or pressed != "true":
        fail("colour toggle: %d class colours by domain, %d by class, pressed %s" % (dom_seen, cls_seen, pressed))
    d.find_element(By.ID, "color-domain").click()
    if class_colours_seen(d) > 1:
        fail("colour toggle back to domain: class colours remain")
    ok("colour toggle: %d of 5 class-only colours by domain, %d by class" % (dom_seen, cls_seen))

    # hover a target point: its image, true label and prediction at this snapshot
    frame = state(d)[0]
    d.execute_script("window.scrollTo(0, 0)")
    cand = d.execute_script("""
const R = window.dannReport, D = R.data, b = document.getElementById('scatter').getBoundingClientRect();
const out = [];
for (let i = 0; i < D.n; i++) if (D.domains[i] === '1') {
  const p = R.pointClient(i);
  if (p.x > b.left + 20 && p.x < b.right - 20 && p.y > b.top + 20 && p.y < Math.min(b.bottom, innerHeight) - 20) out.push([i, p.x, p.y]);
}
return out.slice(0, 40);""")
    if not cand:
        fail("no target point on screen to hover")
    hit = None
    for i, x, y in cand:
        ab = ActionBuilder(d)
        ab.pointer_action.move_to_location(int(round(x)), int(round(y)))
        ab.perform()
        hov = d.execute_script("return document.body.dataset.hover")
        if hov not in (None, ""):
            hit = int(hov)
            break
    if hit is None:
        fail("hovering %d target points showed no tooltip" % len(cand))
    if not d.find_element(By.ID, "tip").is_displayed():
        fail("the tooltip is not visible")
    text = d.find_element(By.ID, "tip-text").text
    lab = int(D["labels"][hit])
    if "true label %d" % lab not in text:
        fail("tooltip of point %d says %r, its label is %d" % (hit, text, lab))
    if D["preds"]:
        pr = int(D["preds"][frame][hit])
        if "predicted %d" % pr not in text:
            fail("tooltip of point %d says %r, predicted %d at frame %d" % (hit, text, pr, frame))
    var = d.execute_script("""
const g = document.getElementById('tip-img').getContext('2d'), px = g.getImageData(0, 0, 112, 112).data;
const s = new Set();
for (let i = 0; i < px.length; i += 4) s.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
return s.size;""")
    if D["sprite"] and var < 8:
        fail("the enlarged digit has %d colours: blank" % var)
    ok("hover point %d: %r, image with %d colours" % (hit, text.replace("\n", " | "), var))

    # misclassified highlight
    if D["preds"]:
        d.find_element(By.ID, "miss").click()
        if not d.execute_script("return window.dannReport.state.miss"):
            fail("the misclassified toggle did not switch on")
        d.find_element(By.ID, "miss").click()
        ok("misclassified highlight: " + d.find_element(By.ID, "miss-count").text)

    # the screenshot: last frame, hover kept
    ab = ActionBuilder(d)
    x, y = d.execute_script("const p = window.dannReport.pointClient(%d); return [p.x, p.y]" % hit)
    ab.pointer_action.move_to_location(int(round(x)), int(round(y)))
    ab.perform()
    time.sleep(0.2)
    png = d.get_screenshot_as_png()
    with open(shot, "wb") as fh:
        fh.write(png)
    im = Image.open(io.BytesIO(png)).convert("RGB")
    cols = im.getcolors(maxcolors=1 << 20) or []
    top = max(c for c, _ in cols) / (im.width * im.height)
    if len(cols) < 200 or top > 0.97:
        fail("screenshot %dx%d: %d colours, the commonest on %.1f%% of it: blank" % (im.width, im.height, len(cols), 100 * top))
    ok("screenshot %s: %dx%d, %d colours, the commonest on %.0f%%" % (shot, im.width, im.height, len(cols), 100 * top))

    # phone width (a headless window is at least 500 px wide: the device is emulated)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    time.sleep(0.3)
    sw, iw = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    if sw > iw:
        fail("at phone width the page is %d px wide in a %d px window" % (sw, iw))
    ok("phone width: %d px in %d px" % (sw, iw))

    errors = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
    if errors:
        fail("console errors: %s" % "; ".join(e.get("message", "") for e in errors))
    ok("no console errors")


if __name__ == "__main__":
    main()
