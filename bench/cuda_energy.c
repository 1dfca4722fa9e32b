/* bench/cuda_energy.c — the GPU's energy counter around a command: `cuda_energy OUT CMD [ARGS...]`
 * runs CMD and writes "JOULES SECONDS" to OUT, JOULES being the change of GPU 0's total energy
 * counter (NVML nvmlDeviceGetTotalEnergyConsumption, millijoules since the driver loaded) over
 * the command's run, SECONDS its wall time. The exit status is CMD's.
 *
 * Why not nvidia-smi's power.draw: on Ampere and later it is a one-second moving average, so 100 ms
 * samples of a run of a few seconds mostly see the previous second (the v11 / v12 joule figures
 * came from such samples). bench/cuda_run.sh takes two runs that differ only in the number of
 * repetitions and divides the difference of their energies by the difference of their tokens, so
 * loading, warm-up and start-up cancel.
 *
 * NVML is opened with dlopen (libnvidia-ml.so.1, part of the driver), so no CUDA headers or
 * libraries are needed to build it: cc -O2 bench/cuda_energy.c -o cuda_energy -ldl */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*init_fn)(void);
typedef int (*handle_fn)(unsigned, void **);
typedef int (*energy_fn)(void *, unsigned long long *);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: cuda_energy OUT CMD [ARGS...]\n");
        return 2;
    }
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "cuda_energy: cannot open libnvidia-ml.so.1: %s\n", dlerror());
        return 2;
    }
    init_fn init = (init_fn)dlsym(lib, "nvmlInit_v2");
    handle_fn handle = (handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    energy_fn energy = (energy_fn)dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");
    void *dev = NULL;
    unsigned long long e0 = 0, e1 = 0;
    if (!init || !handle || !energy || init() != 0 || handle(0, &dev) != 0 || energy(dev, &e0) != 0) {
        fprintf(stderr, "cuda_energy: NVML's energy counter is not available\n");
        return 2;
    }
    const double t0 = now();
    const pid_t pid = fork();
    if (pid < 0) {
        perror("cuda_energy: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("cuda_energy: exec");
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) {
        perror("cuda_energy: waitpid");
        return 2;
    }
    const double t1 = now();
    if (energy(dev, &e1) != 0) {
        fprintf(stderr, "cuda_energy: reading the energy counter failed\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fprintf(f, "%.3f %.3f\n", (double)(e1 - e0) / 1000.0, t1 - t0);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
