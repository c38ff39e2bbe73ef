// hubcourse's own small JS. Live parts poll server-rendered partials; see poll().
"use strict";

function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}
window.hubcourse = { csrfToken };
