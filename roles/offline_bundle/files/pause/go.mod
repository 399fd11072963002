module kamaji.local/pause

go 1.22
