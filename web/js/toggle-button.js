// A toggle button (`aria-pressed`) whose label says what it is now, e.g. "Microphone on".

/** Shows `on` (false when the device is not `available`, which also disables the button). */
export function setToggle(button, on, onLabel, offLabel, available = true) {
  button.setAttribute('aria-pressed', String(on && available));
  button.querySelector('.label').textContent = on && available ? onLabel : offLabel;
  button.disabled = !available;
}
