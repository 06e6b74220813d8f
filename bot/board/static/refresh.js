// The board refreshes itself: every `data-refresh` seconds (on <main>) it fetches the same
// address again (path and query string) and swaps in the new <main>, keeping the scroll
// position, the <details> the viewer opened or closed, and the photos already loaded.
// It waits while the tab is hidden and catches up when it is shown again. The page says
// when it was last updated ("updated hh:mm", campus time, written by the server).
// window.boardRefresh() refreshes now (returns a promise); tests use it.
"use strict";
(function () {
  let timer = null;
  let busy = null;

  function main(doc) {
    return doc.querySelector("main[data-refresh]");
  }

  function seconds() {
    const here = main(document);
    const value = here ? Number(here.dataset.refresh) : 0;
    return value > 0 ? value : 0;
  }

  function detailsKey(el, index) {
    return el.id || "#" + index;
  }

  function swap(fresh) {
    const old = main(document);
    if (!old || !fresh) return false;
    // What the viewer opened or closed stays as they left it.
    const open = new Map();
    old.querySelectorAll("details").forEach((el, i) => open.set(detailsKey(el, i), el.open));
    // Photos already shown are moved over, not fetched again.
    const images = new Map();
    old.querySelectorAll("img[src]").forEach((img) => images.set(img.getAttribute("src"), img));
    fresh.querySelectorAll("img[src]").forEach((img) => {
      const kept = images.get(img.getAttribute("src"));
      if (kept) {
        images.delete(img.getAttribute("src"));
        img.replaceWith(kept);
      }
    });
    fresh.querySelectorAll("details").forEach((el, i) => {
      const key = detailsKey(el, i);
      if (open.has(key)) el.open = open.get(key);
    });
    const x = window.scrollX;
    const y = window.scrollY;
    old.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.adoptNode(n)));
    const title = fresh.ownerDocument.title;
    if (title) document.title = title;
    window.scrollTo(x, y);
    return true;
  }

  async function refresh() {
    if (busy) return busy;
    busy = (async () => {
      try {
        const res = await fetch(location.pathname + location.search, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
          cache: "no-store",
        });
        // Signed out, gone or failing: the page stays as it is until the next try.
        if (!res.ok) return false;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        return swap(main(doc));
      } catch (e) {
        return false;
      } finally {
        busy = null;
      }
    })();
    return busy;
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    const every = seconds();
    if (!every || document.hidden) return;
    timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, every * 1000);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (seconds()) {
      refresh().then(schedule);
    }
  });

  window.boardRefresh = refresh;
  window.boardRefreshSchedule = schedule;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedule);
  } else {
    schedule();
  }
})();
