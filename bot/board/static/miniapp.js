// Inside Telegram the Mini App's launch parameters arrive in the address's fragment
// (#tgWebAppData=…). Trade them for a session cookie, then show the board. No script
// from telegram.org: campus intranets are often offline.
"use strict";
(function () {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const initData = fragment.get("tgWebAppData");
  if (!initData) return;
  fetch("/board/api/session", { method: "POST", headers: { Authorization: "tma " + initData } })
    .then((res) => {
      if (res.ok) location.replace("/board/" + location.search);
      else document.getElementById("signin").textContent += " (" + res.status + ")";
    });
})();
