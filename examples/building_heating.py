"""Plan a building's heating: optimise the schedule through the thermal simulation loop.

    python examples/building_heating.py [--fast] [--out DIR] [--compile numba]

One room, a resistance R (K/kW) to the outdoors and a heat capacity C (kWh/K),
simulated hour by hour over two days:

    for t in range(T):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        cost = cost + price[t] * heat[t] + lam * (temp - target) ** 2

The cost is the electricity bill plus a quadratic discomfort penalty. s2sad
differentiates the loop with respect to the whole schedule heat[0..T-1] (a
reverse loop over the hours); s2sad.optim.Adam lowers the cost, and after
each step the schedule is clipped to the heater's range 0..HEAT_MAX kW, so
heat is never negative. Electricity is dearer in the evening, so the optimum
preheats the room before the peak. Saves heating_loss.png and heating_schedule.png.

`--compile numba` compiles the generated gradient with Numba
(`s2sad.value_and_grad(cost, compile="numba")`, `pip install numba`) and
prints the time per gradient call, plain and compiled.
"""

import time

import numpy as np

import s2sad
import s2sad.optim

from _common import parse_args, progress, pyplot, save_loss_plot, savefig, set_postfix

R, C, DT = 2.0, 10.0, 1.0             # K/kW, kWh/K, hours
TEMP0, TARGET, LAM = 16.0, 20.0, 0.5  # deg C, deg C, EUR per K^2 per hour
HEAT_MAX = 20.0                       # kW


def cost(heat, outdoor, price, temp0, R, C, dt, lam, target):
    temp = temp0
    total = 0.0
    for t in range(len(heat)):
        dT = (outdoor[t] - temp) / (R * C) + heat[t] / C
        temp = temp + dt * dT
        total = total + price[t] * heat[t] + lam * (temp - target) ** 2
    return total


def temperatures(heat, outdoor, temp0=TEMP0, dt=DT):
    """The same simulation, keeping the temperature after every hour (for reports)."""
    temps, temp = [], temp0
    for t in range(len(heat)):
        temp = temp + dt * ((outdoor[t] - temp) / (R * C) + heat[t] / C)
        temps.append(temp)
    return np.array(temps)


def scenario(hours=48):
    hour = np.arange(hours) % 24
    outdoor = 4.0 + 5.0 * np.sin(2 * np.pi * (hour - 9) / 24)      # coldest at 3 am
    price = np.where((hour >= 17) & (hour < 21), 0.60, 0.20)        # EUR/kWh, evening peak
    price = np.where((hour < 6), 0.12, price)                       # cheap nights
    return outdoor, price


def compare_speed(compiled, heat, constants, calls=300):
    """Time a gradient call, plain and compiled (the compile: the first call)."""
    start = time.perf_counter()
    compiled(heat, *constants)
    compile_s = time.perf_counter() - start
    plain = s2sad.value_and_grad(cost)
    plain(heat, *constants)
    per_call = {}
    for name, f in (("plain", plain), ("compiled", compiled)):
        start = time.perf_counter()
        for _ in range(calls):
            f(heat, *constants)
        per_call[name] = (time.perf_counter() - start) / calls
    print(f"gradient per call: plain {per_call['plain'] * 1e6:.1f} us, compiled "
          f"{per_call['compiled'] * 1e6:.1f} us ({per_call['plain'] / per_call['compiled']:.0f}x faster; "
          f"compiled in {compile_s:.2f} s)")
    return {"compile_s": compile_s, **per_call}


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, extra=lambda p: p.add_argument(
        "--compile", choices=["numba", "auto"], default=None,
        help="compile the generated gradient (needs numba)"))
    steps = 60 if args.fast else 1500
    outdoor, price = scenario()
    T = len(outdoor)
    constants = (outdoor, price, TEMP0, R, C, DT, LAM, TARGET)
    heat = np.full(T, (TARGET - outdoor.mean()) / R)                # the steady-state average
    print(f"building: {T} hours, R = {R} K/kW, C = {C} kWh/K, start at {TEMP0} C, target {TARGET} C; "
          f"initial schedule: a constant {heat[0]:.2f} kW")

    loss_and_grad = s2sad.value_and_grad(cost, compile=args.compile)
    timing = None
    if args.compile:
        timing = compare_speed(loss_and_grad, heat, constants)
    opt = s2sad.optim.Adam(lr=0.1)
    state = opt.init(heat)
    losses = []
    start = time.perf_counter()
    bar = progress(steps, "planning")
    for _ in bar:
        loss, g = loss_and_grad(heat, *constants)
        losses.append(float(loss))
        set_postfix(bar, cost=loss)
        heat, state = opt.update(heat, g, state)
        heat = np.clip(heat, 0.0, HEAT_MAX)                         # the heater's range
    seconds = time.perf_counter() - start
    losses.append(float(cost(heat, *constants)))

    temps = temperatures(heat, outdoor)
    bill = float(np.sum(price * heat))
    discomfort = float(np.sqrt(np.mean((temps - TARGET) ** 2)))
    first = np.full(T, (TARGET - outdoor.mean()) / R)
    temps0 = temperatures(first, outdoor)
    print(f"{steps} Adam steps ({seconds:.2f} s): cost {losses[0]:.2f} -> {losses[-1]:.2f}")
    print(f"  bill {np.sum(price * first):.2f} -> {bill:.2f} EUR, energy {np.sum(first):.1f} -> "
          f"{np.sum(heat):.1f} kWh; RMS distance from {TARGET} C {np.sqrt(np.mean((temps0 - TARGET) ** 2)):.2f}"
          f" -> {discomfort:.2f} K")
    peak = (np.arange(T) % 24 >= 17) & (np.arange(T) % 24 < 21)
    print(f"  mean heating in the evening peak {heat[peak].mean():.2f} kW, off-peak {heat[~peak].mean():.2f} kW;"
          f" heat within [{heat.min():.2f}, {heat.max():.2f}] kW")

    plot = save_loss_plot(losses, args.out, "heating_loss.png", "Heating schedule (Adam, clipped to 0..20 kW)",
                          ylabel="cost (EUR + discomfort)", logy=False)
    schedule = None
    plt = pyplot()
    if plt is not None:
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
        hours = np.arange(T)
        ax1.plot(hours, temps0, label="constant heating")
        ax1.plot(hours, temps, label="optimised")
        ax1.plot(hours, outdoor, "k:", label="outdoor")
        ax1.axhline(TARGET, color="grey", linewidth=0.5)
        ax1.set_ylabel("temperature (C)")
        ax1.legend(fontsize=8)
        ax2.step(hours, heat, where="post", label="heat (kW)")
        ax2.step(hours, price * 20, where="post", color="r", alpha=0.5, label="price x 20 (EUR/kWh)")
        ax2.set_xlabel("hour")
        ax2.legend(fontsize=8)
        schedule = savefig(fig, args.out, "heating_schedule.png")
    return {"timing": timing, "heat": heat, "temperatures": temps, "losses": losses, "initial_loss": losses[0],
            "final_loss": losses[-1], "bill": bill, "rms_discomfort": discomfort,
            "min_heat": float(heat.min()), "plot": plot, "schedule_plot": schedule}


if __name__ == "__main__":
    main()
