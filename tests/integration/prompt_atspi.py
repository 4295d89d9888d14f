# SPDX-License-Identifier: LGPL-2.1-or-later
"""prompt_atspi.py: reads and drives imza-prompt's window through the accessibility tree (AT-SPI), as a
screen reader would. Used by tests/integration/prompt.sh.

  dump OUT.json [TIMEOUT]   waits for imza-prompt's window, then writes every node of it (role, name,
                            text, sensitive, extents in window coordinates, value of a scroll bar
                            or other range) in tree order
  press NAME [TITLE]        activates the button or check box called NAME (its AT-SPI action), in the
                            window TITLE (default: the last one opened)
  gone [TIMEOUT]            waits until imza-prompt has no window left
  gone-window TITLE         waits until the window TITLE is gone
"""
import json
import sys
import time

import pyatspi

APP = "imza-prompt"


def windows():
    desk = pyatspi.Registry.getDesktop(0)
    out = []
    for app in desk:
        try:
            if app is None or app.name != APP:
                continue
            for w in app:
                # GTK 4.8 lists a window opened after another one closed (the signing window after the
                # certificate choice) as a "filler" at the application's top.
                if w is not None and w.getRoleName() in ("frame", "filler"):
                    out.append(w)
        except Exception:  # an application that went away while we looked
            continue
    return out


def nodes(root):
    out = []

    def walk(a):
        try:
            role, name = a.getRoleName(), a.name
        except Exception:
            return
        text = None
        try:
            t = a.queryText()
            text = t.getText(0, t.characterCount)
        except Exception:
            pass
        ext = None
        try:
            e = a.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
            ext = [e.x, e.y, e.width, e.height]
        except Exception:
            pass
        value = None
        try:
            v = a.queryValue()
            value = [v.currentValue, v.minimumValue, v.maximumValue]
        except Exception:
            pass
        st = a.getState()
        out.append({"role": role, "name": name, "text": text, "ext": ext, "value": value,
                    "sensitive": st.contains(pyatspi.STATE_SENSITIVE),
                    "checked": st.contains(pyatspi.STATE_CHECKED), "obj": a})
        for c in a:
            if c is not None:
                walk(c)

    walk(root)
    return out


def wait_window(timeout, want=None):
    """The window (the last one opened, or the one whose title is want) once it holds buttons."""
    end = time.time() + timeout
    while time.time() < end:
        ws = [w for w in windows() if want is None or w.name == want]
        # A window closed a moment ago (the certificate choice before the signing window) may still be
        # listed, empty: the newest one that holds buttons is the one on screen.
        for w in reversed(ws):
            ns = nodes(w)
            if any(n["role"] == "push button" for n in ns):
                return w, ns
        time.sleep(0.2)
    sys.exit("no imza-prompt window within %s s" % timeout)


def find(ns, name, roles=("push button", "check box")):
    for n in ns:
        if n["role"] in roles and n["name"] == name:
            return n
    sys.exit("no %s called %r" % ("/".join(roles), name))


def press(node):
    act = node["obj"].queryAction()
    for i in range(act.nActions):
        if act.getName(i) in ("click", "activate", "press", "toggle"):
            act.doAction(i)
            return
    act.doAction(0)


def main():
    cmd = sys.argv[1]
    if cmd == "dump":
        timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
        want = sys.argv[4] if len(sys.argv) > 4 else None
        _, ns = wait_window(timeout, want)
        for n in ns:
            del n["obj"]
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            json.dump(ns, f, ensure_ascii=False)
    elif cmd == "press":
        want = sys.argv[3] if len(sys.argv) > 3 else None
        _, ns = wait_window(10, want)
        press(find(ns, sys.argv[2]))
    elif cmd == "gone":
        end = time.time() + (float(sys.argv[2]) if len(sys.argv) > 2 else 15)
        while windows():
            if time.time() > end:
                sys.exit("imza-prompt's window is still there")
            time.sleep(0.2)
    elif cmd == "gone-window":
        end = time.time() + 10
        while any(w.name == sys.argv[2] for w in windows()):
            if time.time() > end:
                sys.exit("the window %r is still there" % sys.argv[2])
            time.sleep(0.2)
    else:
        sys.exit(__doc__)


main()
