"""Storage for job volumes: loop-mounted local disks and shared directories."""
